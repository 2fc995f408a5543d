"""Decision service state: keys, relying parties, inquiries, objections, repairs, notices,
listings and the corrections outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(24), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32)),
    )
    op.create_table(
        "relying_parties",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("measures", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "inquiries",
        sa.Column("decision_id", sa.String(36), primary_key=True),
        sa.Column("relying_party", sa.String(128), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("measure", sa.String(128), nullable=False),
        sa.Column("scheme_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("known_at", sa.BigInteger, nullable=False),
        sa.Column("applies", sa.Boolean, nullable=False),
        sa.Column("made_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_inquiries_subject", "inquiries", ["subject_id", "made_at"])
    op.create_index("ix_inquiries_party", "inquiries", ["relying_party", "made_at"])
    op.create_table(
        "objections",
        sa.Column("objection_id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_at", sa.String(32), nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("decided_at", sa.String(32)),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decision_reason", sa.Text),
    )
    op.create_index("ix_objections_subject", "objections", ["subject_id"])
    op.create_index("ix_objections_status", "objections", ["status", "deadline"])
    op.create_table(
        "repairs",
        sa.Column("repair_id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_at", sa.String(32), nullable=False),
        sa.Column("decided_at", sa.String(32)),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decision_reason", sa.Text),
    )
    op.create_index("ix_repairs_subject", "repairs", ["subject_id"])
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_notices_subject", "notices", ["subject_id", "created_at"])
    op.create_table(
        "listings",
        sa.Column("scheme_id", sa.String(64), primary_key=True),
        sa.Column("list_id", sa.String(128), primary_key=True),
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("listed_on", sa.Date, primary_key=True),
        sa.Column("noticed_at", sa.String(32), nullable=False),
        sa.Column("public_from", sa.Date, nullable=False),
        sa.Column("delisted_on", sa.Date),
    )
    op.create_index("ix_listings_public", "listings", ["scheme_id", "list_id", "public_from"])
    op.create_table(
        "outbox",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("relying_party", sa.String(128), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("attempts", sa.BigInteger, nullable=False),
        sa.Column("next_attempt_at", sa.String(32), nullable=False),
        sa.Column("delivered_at", sa.String(32)),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_pending", "outbox", ["delivered_at", "next_attempt_at"])


def downgrade() -> None:
    for name in (
        "outbox",
        "listings",
        "notices",
        "repairs",
        "objections",
        "inquiries",
        "relying_parties",
        "api_keys",
    ):
        op.drop_table(name)
