"""Related parties: find the organisations whose relation records name a person.

A ``relation.<role>`` record is about the organisation and names the person in
``attrs.person`` (:mod:`xinyong.domain.relations`). A check on the person looks up the
organisations that name them; this partial index on the named person, over relation records
only, makes that one index probe. The database maintains it with the record's own insert, in
the same transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from xinyong.ledger.related_index import CREATE_INDEX

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(CREATE_INDEX[op.get_bind().dialect.name])


def downgrade() -> None:
    op.execute("DROP INDEX ix_records_related_person")
