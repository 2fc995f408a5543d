"""What an adverse notice names, stored with the standing of a subject a sanction applies to.

A check whose sanction applies sends the subject a notice naming the lists and the records that
counted. Those come from the subject's explanation, which the batch scoring does not produce, so
every such check was computed from the records (milliseconds of Python) even when the stored
standing was current. The batch refresh now stores them beside the standing (``adverse``, JSON;
NULL for subjects no sanction applies to, and for runs saved before this revision, whose
sanctioned checks are computed as before).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("standings", sa.Column("adverse", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("standings") as batch:
        batch.drop_column("adverse")
