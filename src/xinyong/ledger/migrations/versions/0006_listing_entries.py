"""Public ids for list entries: pages name an entry by a random id, never by the subject's id.

Existing entries get a random id each.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_KEY = ("scheme_id", "list_id", "subject_id", "listed_on")


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("entry_id", sa.String(32)))
    listings = sa.table("listings", *(sa.column(name) for name in (*_KEY, "entry_id")))
    conn = op.get_bind()
    for row in conn.execute(sa.select(*(listings.c[name] for name in _KEY))).all():
        conn.execute(
            sa.update(listings)
            .where(*(listings.c[name] == getattr(row, name) for name in _KEY))
            .values(entry_id=uuid.uuid4().hex)
        )
    op.create_index("ix_listings_entry", "listings", ["entry_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_listings_entry", table_name="listings")
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("entry_id")
