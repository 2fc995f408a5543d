"""Human review, appeals and the furnisher's part in a dispute.

- ``reviews``: a subject asks a person to review a check, a listing or a standing;
- ``appeals``: one appeal per objection or repair decision, decided by another operator;
- ``sources``: a furnisher's webhook and its signing secret;
- ``objections``: the furnisher's answer, information the subject added, the one extension;
- ``objections.decided_on``, ``repairs.decided_on``: the service's date of a decision, from
  which its appeal period runs (NULL for decisions made before: their ``decided_at``);
- ``relying_parties.webhook_secret``: corrections are signed too (a secret is made for every
  party registered before this revision; nobody can read it: the operator makes a new one to
  hand over, ``POST /v1/relying-parties/{name}/webhook-secret``);
- ``outbox.recipient_kind``: a message goes to a relying party or to a source.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from xinyong.ledger.webhook_secrets import new_webhook_secret

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("review_id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_at", sa.String(32), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.String(32)),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decision_reason", sa.Text()),
        sa.Column("voided", sa.Text()),
    )
    op.create_index("ix_reviews_subject", "reviews", ["subject_id"])
    op.create_index("ix_reviews_status", "reviews", ["status", "deadline"])
    op.create_table(
        "appeals",
        sa.Column("appeal_id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("first_decided_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_at", sa.String(32), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.String(32)),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decision_reason", sa.Text()),
        sa.UniqueConstraint("target_kind", "target_id", name="uq_appeals_target"),
    )
    op.create_index("ix_appeals_subject", "appeals", ["subject_id"])
    op.create_index("ix_appeals_status", "appeals", ["status", "deadline"])
    op.create_table(
        "sources",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("webhook_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    with op.batch_alter_table("repairs") as batch:
        batch.add_column(sa.Column("decided_on", sa.Date()))
    with op.batch_alter_table("objections") as batch:
        batch.add_column(sa.Column("decided_on", sa.Date()))
        batch.add_column(sa.Column("furnisher_verdict", sa.String(16)))
        batch.add_column(sa.Column("furnisher_statement", sa.Text()))
        batch.add_column(sa.Column("furnisher_evidence", sa.Text()))
        batch.add_column(sa.Column("answered_at", sa.String(32)))
        batch.add_column(sa.Column("added_information", sa.Text()))
        batch.add_column(sa.Column("extended_at", sa.String(32)))
    op.add_column("relying_parties", sa.Column("webhook_secret", sa.Text()))
    parties = sa.table("relying_parties", sa.column("name"), sa.column("webhook_secret"))
    bind = op.get_bind()
    for (name,) in bind.execute(sa.select(parties.c.name)).all():
        bind.execute(
            parties.update()
            .where(parties.c.name == name)
            .values(webhook_secret=new_webhook_secret())
        )
    op.add_column(
        "outbox",
        sa.Column("recipient_kind", sa.String(16), nullable=False, server_default="relying"),
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("recipient_kind")
    with op.batch_alter_table("relying_parties") as batch:
        batch.drop_column("webhook_secret")
    with op.batch_alter_table("objections") as batch:
        for name in (
            "extended_at",
            "added_information",
            "answered_at",
            "furnisher_evidence",
            "furnisher_statement",
            "furnisher_verdict",
            "decided_on",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("repairs") as batch:
        batch.drop_column("decided_on")
    op.drop_table("sources")
    op.drop_table("appeals")
    op.drop_table("reviews")
