"""Peer records by interaction id: admitting a rating finds its interaction in one probe.

Admitting a rating (:mod:`xinyong.peer.admission`) looks up both parties' records of the
interaction it names (``case_id``) and earlier ratings of it. Through the subject index that
read every record of everyone in the batch's ratings (on the check benchmark's ledger, about
1,600 rows from as many pages for a batch of 100 records, to find a few). This partial index on
``case_id`` over peer records (:mod:`xinyong.ledger.peer_index`) finds those few. The database
maintains it with the record's own insert, in the same transaction.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from xinyong.ledger.peer_index import CASE_INDEX, CREATE_CASE_INDEX

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(CREATE_CASE_INDEX)


def downgrade() -> None:
    op.execute(f"DROP INDEX {CASE_INDEX}")
