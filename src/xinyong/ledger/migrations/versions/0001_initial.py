"""Initial ledger: subjects, records, events and checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _entry_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "subjects",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.Text),
        sa.Column("identifiers", sa.Text, nullable=False),
        *_entry_columns(),
    )
    op.create_index("ix_subjects_subject_id", "subjects", ["subject_id"])
    op.create_table(
        "records",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.Date, nullable=False),
        sa.Column("case_id", sa.String(200)),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text),
        *_entry_columns(),
        sa.UniqueConstraint("source", "record_id", name="uq_records_source_record_id"),
    )
    op.create_index("ix_records_subject_id", "records", ["subject_id"])
    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attrs", sa.Text, nullable=False),
        *_entry_columns(),
    )
    op.create_index("ix_events_record", "events", ["source", "record_id"])
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),
        sa.Column("committed_at", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("checkpoints", "events", "records", "subjects"):
        op.drop_table(name)
