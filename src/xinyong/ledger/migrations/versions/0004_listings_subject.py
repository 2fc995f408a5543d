"""Index list entries by subject: every change to a subject's records looks up its open entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_listings_subject", "listings", ["subject_id", "scheme_id"])


def downgrade() -> None:
    op.drop_index("ix_listings_subject", table_name="listings")
