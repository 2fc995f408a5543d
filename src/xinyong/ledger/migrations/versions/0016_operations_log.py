"""The operations log: a second Merkle tree of every change to the operational rows.

The rows already there become its first entries, in one batch (their state when the ledger was
upgraded): from then on each change is logged by the transaction that makes it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("tbl", sa.String(32), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("state", sa.Text()),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_operations_row", "operations", ["tbl", "row_key", "position"])
    op.create_table(
        "operation_checkpoints",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.Column("committed_at", sa.String(32), nullable=False),
    )
    from xinyong.ledger.operations import log_existing_rows

    log_existing_rows(op.get_bind())


def downgrade() -> None:
    op.drop_table("operation_checkpoints")
    op.drop_index("ix_operations_row", table_name="operations")
    op.drop_table("operations")
