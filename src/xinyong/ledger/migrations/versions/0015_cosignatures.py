"""Witnesses' cosignatures of checkpoints, published with them (C2SP tlog-cosignature).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cosignatures",
        sa.Column("size", sa.BigInteger(), primary_key=True),
        sa.Column("witness", sa.String(255), primary_key=True),
        sa.Column("key_id", sa.String(8), primary_key=True),
        sa.Column("signed_at", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cosignatures")
