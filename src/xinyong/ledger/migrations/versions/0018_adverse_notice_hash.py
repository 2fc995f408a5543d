"""Adverse-check notices in the inquiry log: each check's entry holds its notice's hash.

Checks logged before keep no hash (their entries hash as they did); ``ledger verify`` holds
their notices to the checks that applied but cannot check their bodies
(:mod:`xinyong.ledger.adverse_notices`).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
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
    op.add_column("inquiries", sa.Column("notice_hash", sa.String(64)), schema=_schema())


def downgrade() -> None:
    op.drop_column("inquiries", "notice_hash", schema=_schema())
