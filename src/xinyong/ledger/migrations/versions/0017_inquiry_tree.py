"""The inquiry log as a Merkle tree: each check's position and leaf hash, and the tree's heads.

The checks already logged are placed in the tree in the order they were made, under one
checkpoint; from then on each batch of checks is placed by the transaction that logs it. The new
columns allow NULL (SQLite cannot add a NOT NULL column to a table with rows); ``ledger verify``
reports a check without a place.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SCHEMA = "inquiry_log"


def _schema() -> str | None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return None
    names = {row[1] for row in bind.exec_driver_sql("PRAGMA database_list")}
    return SCHEMA if SCHEMA in names else None


def upgrade() -> None:
    schema = _schema()
    op.add_column("inquiries", sa.Column("position", sa.BigInteger()), schema=schema)
    op.add_column("inquiries", sa.Column("leaf_hash", sa.LargeBinary(32)), schema=schema)
    op.create_index("ix_inquiries_position", "inquiries", ["position"], unique=True, schema=schema)
    op.create_table(
        "inquiry_checkpoints",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.Column("committed_at", sa.String(32), nullable=False),
        schema=schema,
    )
    from xinyong.ledger.inquiry_tree import place_unplaced

    place_unplaced(op.get_bind())


def downgrade() -> None:
    schema = _schema()
    op.drop_table("inquiry_checkpoints", schema=schema)
    op.drop_index("ix_inquiries_position", table_name="inquiries", schema=schema)
    op.drop_column("inquiries", "leaf_hash", schema=schema)
    op.drop_column("inquiries", "position", schema=schema)
