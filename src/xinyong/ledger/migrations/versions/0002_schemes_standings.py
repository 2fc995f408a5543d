"""Scheme versions and saved standings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schemes",
        sa.Column("scheme_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "standing_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("scheme_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("known_at", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("subjects", sa.BigInteger, nullable=False),
        sa.Column("computed_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_standing_runs_scheme", "standing_runs", ["scheme_id", "as_of"])
    op.create_table(
        "standings",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("grade", sa.String(64), nullable=False),
        sa.Column("lists", sa.Text, nullable=False),
        sa.Column("measures", sa.Text, nullable=False),
    )
    op.create_index("ix_standings_subject", "standings", ["subject_id"])


def downgrade() -> None:
    for name in ("standings", "standing_runs", "schemes"):
        op.drop_table(name)
