"""The inquiry log in its own file beside a SQLite ledger; a ledger id that ties the two.

A SQLite ledger attaches ``<name>-inquiries.db`` as ``inquiry_log`` on every connection
(:func:`xinyong.ledger.database.inquiry_log_path`). This revision moves the ``inquiries`` table
there, with its rows and indexes, and gives the ledger an id (``ledger_identity``) that the
inquiry file records (``inquiry_log.log_owner``), so that a ledger opened with another ledger's
inquiry file is refused instead of showing its subjects someone else's checks. On PostgreSQL and
for an in-memory SQLite ledger the table stays where it is; the ledger still gets its id.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "inquiry_log"
COLUMNS = (
    "decision_id, relying_party, subject_id, measure, scheme_id, version, as_of, known_at, "
    "applies, made_at"
)


def _attached() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    names = {row[1] for row in bind.exec_driver_sql("PRAGMA database_list")}
    return SCHEMA in names


def _create_inquiries(schema: str | None) -> None:
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
        schema=schema,
    )
    op.create_index("ix_inquiries_subject", "inquiries", ["subject_id", "made_at"], schema=schema)
    op.create_index("ix_inquiries_party", "inquiries", ["relying_party", "made_at"], schema=schema)


def upgrade() -> None:
    ledger_id = str(uuid.uuid4())
    op.create_table("ledger_identity", sa.Column("ledger_id", sa.String(36), primary_key=True))
    op.execute(
        sa.text("INSERT INTO ledger_identity (ledger_id) VALUES (:i)").bindparams(i=ledger_id)
    )
    if not _attached():
        return
    bind = op.get_bind()
    existing = bind.exec_driver_sql(
        f"SELECT name FROM {SCHEMA}.sqlite_master WHERE type = 'table'"
    ).all()
    if existing:
        raise RuntimeError(
            "the inquiry log file beside this ledger already holds tables; it belongs to another "
            "ledger: move it away and open the ledger again"
        )
    op.create_table(
        "log_owner", sa.Column("ledger_id", sa.String(36), primary_key=True), schema=SCHEMA
    )
    op.execute(
        sa.text(f"INSERT INTO {SCHEMA}.log_owner (ledger_id) VALUES (:i)").bindparams(i=ledger_id)
    )
    _create_inquiries(SCHEMA)
    op.execute(f"INSERT INTO {SCHEMA}.inquiries ({COLUMNS}) SELECT {COLUMNS} FROM main.inquiries")
    op.execute("DROP TABLE main.inquiries")


def downgrade() -> None:
    if _attached():
        _create_inquiries("main")
        op.execute(
            f"INSERT INTO main.inquiries ({COLUMNS}) SELECT {COLUMNS} FROM {SCHEMA}.inquiries"
        )
        op.execute(f"DROP TABLE {SCHEMA}.inquiries")
        op.execute(f"DROP TABLE {SCHEMA}.log_owner")
    op.drop_table("ledger_identity")
