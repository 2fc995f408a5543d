"""The peer records' case index over a list of codes instead of a range of them.

Migration 0020 made the index partial on ``code >= 'peer.' AND code < 'peer/'``: a comparison of
strings in the database's collation, and under a collation that ignores punctuation no peer
code lies in that range, so no interaction would be found and every rating refused. The index is
made again over ``code IN ('peer.interaction', 'peer.rating')``, which means the same in every
collation (:mod:`xinyong.ledger.peer_index`).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from xinyong.ledger.peer_index import CASE_INDEX, CREATE_CASE_INDEX

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(f"DROP INDEX {CASE_INDEX}")
    op.execute(CREATE_CASE_INDEX)


def downgrade() -> None:
    """The index stays as it is: its range form was the defect this revision removes."""
