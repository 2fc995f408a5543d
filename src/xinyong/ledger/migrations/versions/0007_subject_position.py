"""Index subjects and records by (subject_id, position) instead of subject_id alone.

A check reads one subject's newest version (``ORDER BY position DESC LIMIT 1``) and its records in
log order. With an index on ``subject_id`` alone, PostgreSQL's planner prefers to walk the primary
key backwards and filter, which reads the whole table for a subject it does not find early
(150 ms on 1,000,000 subjects); with ``(subject_id, position)`` both queries are one index range.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_subjects_subject_position", "subjects", ["subject_id", "position"])
    op.drop_index("ix_subjects_subject_id", table_name="subjects")
    op.create_index("ix_records_subject_position", "records", ["subject_id", "position"])
    op.drop_index("ix_records_subject_id", table_name="records")


def downgrade() -> None:
    op.create_index("ix_records_subject_id", "records", ["subject_id"])
    op.drop_index("ix_records_subject_position", table_name="records")
    op.create_index("ix_subjects_subject_id", "subjects", ["subject_id"])
    op.drop_index("ix_subjects_subject_position", table_name="subjects")
