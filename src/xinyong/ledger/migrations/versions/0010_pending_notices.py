"""Adverse-check notices written beside the inquiry log, then moved to ``notices``.

A check whose sanction applies sends the subject a notice. Written to ``notices`` (the ledger's
file) it would make every check-answering process take the ledger's write lock, which record
appends hold for a while, and empty every reader's page cache. So the notice is written with the
check, in the inquiry log's file (``pending_notices``), and moved to ``notices`` in batches about
every few seconds (:meth:`xinyong.application.inquiry_log.InquiryLog._checkpoint`); until then the
subject's file shows it from ``pending_notices``. Without a separate file (PostgreSQL, an
in-memory ledger) the table is created beside ``notices`` and stays empty.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
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
    op.create_table(
        "pending_notices",
        sa.Column("notice_id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_index("ix_pending_notices_subject", "pending_notices", ["subject_id"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_index("ix_pending_notices_subject", table_name="pending_notices", schema=schema)
    op.drop_table("pending_notices", schema=schema)
