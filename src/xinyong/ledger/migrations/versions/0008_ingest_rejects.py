"""Rejected input rows for the operator's console (where, line, field, reason; no values).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_rejects",
        sa.Column(
            "reject_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
        ),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("source", sa.String(128)),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_ingest_rejects_received", "ingest_rejects", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_ingest_rejects_received", table_name="ingest_rejects")
    op.drop_table("ingest_rejects")
