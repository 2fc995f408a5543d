"""Peer ratings by rater and day: the daily limit's count as one index probe.

A ``peer.rating`` record is about the rated person and names the rater in ``attrs.rater``;
admitting a rating counts the rater's ratings of that day (:mod:`xinyong.peer.admission`). This
partial index on the rater and the day, over rating records only
(:mod:`xinyong.ledger.peer_index`), replaces reading the ratings of everyone the rater met.
The database maintains it with the record's own insert, in the same transaction.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from xinyong.ledger.peer_index import CREATE_RATER_INDEX, RATER_INDEX

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(CREATE_RATER_INDEX[op.get_bind().dialect.name])


def downgrade() -> None:
    op.execute(f"DROP INDEX {RATER_INDEX}")
