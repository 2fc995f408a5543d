"""The ledger's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Every content table is part of one append-only log: each row has a global ``position`` (0, 1, 2,
... across ``subjects``, ``records`` and ``events``) and the ``leaf_hash`` of its content bound to
that position. ``checkpoints`` holds the RFC 6962 Merkle root after every committed batch.

Columns that enter a hash are stored as text when their native types would not round-trip
identically on both engines: ``recorded_at`` is ISO-8601 UTC text and ``attrs`` canonical JSON
text (PostgreSQL's JSONB would reorder keys). Queries cast them where needed.

The Alembic migrations under ``migrations/versions`` create these tables; this module is what the
code queries. A test checks that the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "api_keys",
    "appeals",
    "checkpoints",
    "events",
    "ingest_rejects",
    "inquiries",
    "inquiry_checkpoints",
    "ledger_identity",
    "listings",
    "metadata",
    "notices",
    "objections",
    "operation_checkpoints",
    "operations",
    "outbox",
    "pending_notices",
    "records",
    "relying_parties",
    "repairs",
    "reviews",
    "schemes",
    "sources",
    "standing_runs",
    "standings",
    "subjects",
    "web_sessions",
]

metadata = MetaData()

subjects = Table(
    "subjects",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("subject_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("display_name", Text),
    Column("identifiers", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Index("ix_subjects_subject_position", "subject_id", "position"),
)
"""Subject registrations and later versions (name, identifiers); the newest version wins."""

records = Table(
    "records",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("source", String(64), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("subject_kind", String(16), nullable=False),
    Column("code", String(128), nullable=False),
    Column("occurred_at", Date, nullable=False),
    Column("case_id", String(200)),
    Column("attrs", Text, nullable=False),
    Column("evidence", Text),
    Column("recorded_at", String(32), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    UniqueConstraint("source", "record_id", name="uq_records_source_record_id"),
    Index("ix_records_subject_position", "subject_id", "position"),
)
"""Conduct records as furnished. Never updated or deleted."""

events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("event_type", String(32), nullable=False),
    Column("source", String(64), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("attrs", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Index("ix_events_record", "source", "record_id"),
)
"""Lifecycle events that reference a record: revoked, repaired, corrected, expired."""

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("frontier", Text, nullable=False),
    Column("committed_at", String(32), nullable=False),
    Column("note", Text, nullable=False),
)
"""The tree head after each committed batch: size, Merkle root and the compact frontier."""

schemes = Table(
    "schemes",
    metadata,
    Column("scheme_id", String(64), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
)
"""Scheme versions (content hash). New versions are added; the active flag marks one per id."""

standing_runs = Table(
    "standing_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("scheme_id", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("known_at", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("subjects", BigInteger, nullable=False),
    Column("computed_at", String(32), nullable=False),
    Index("ix_standing_runs_scheme", "scheme_id", "as_of"),
)
"""One batch of standings: which scheme version, as of which date, over which ledger head."""

standings = Table(
    "standings",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("subject_id", String(128), primary_key=True),
    Column("score", Float, nullable=False),
    Column("grade", String(64), nullable=False),
    Column("lists", Text, nullable=False),
    Column("measures", Text, nullable=False),
    Column("adverse", Text, nullable=True),
    Index("ix_standings_subject", "subject_id"),
    sqlite_with_rowid=False,
)
"""Standings per subject and run; reproducible from the run's scheme version and ledger head.
SQLite keeps them in their primary key's B-tree (revision 0011): a check reads one by its key.
``adverse`` (revision 0012): for a subject a sanction applies to, what its adverse notice names
(JSON ``{"lists": [...], "records": [...]}``), so that such a check is answered from the stored
standing too; NULL otherwise."""

# ------------------------------------------------------------------ decision service state
# Operational tables of the decision service. What they change in the ledger (a revocation, a
# repair) is written there as an event; every change to the rows that matter (keys, relying
# parties, sources, schemes, objections, repairs, reviews, appeals, listings, notices) is also
# an entry of the operations log below (:mod:`xinyong.ledger.operations`).

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(24), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("label", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)
"""API keys, stored as SHA-256 of a 256-bit random secret. ``name``: the source, relying party
or subject the key is bound to (empty for operators)."""

relying_parties = Table(
    "relying_parties",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("measures", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("webhook_url", Text),
    Column("created_at", String(32), nullable=False),
    Column("webhook_secret", Text),
)
"""Relying parties and the measures they are registered for (their permissible purpose);
``webhook_secret`` signs what is pushed to their webhook (Standard Webhooks)."""

sources = Table(
    "sources",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("webhook_url", Text),
    Column("webhook_secret", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)
"""Furnishers' webhooks: where a source is told that a subject disputes one of its records.
A source needs no row here to submit records; without one it reads its disputes from the API."""

inquiries = Table(
    "inquiries",
    metadata,
    Column("decision_id", String(36), primary_key=True),
    Column("relying_party", String(128), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("measure", String(128), nullable=False),
    Column("scheme_id", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("known_at", BigInteger, nullable=False),
    Column("applies", Boolean, nullable=False),
    Column("made_at", String(32), nullable=False),
    Column("position", BigInteger),
    Column("leaf_hash", LargeBinary(32)),
    Column("notice_hash", String(64)),
    Index("ix_inquiries_subject", "subject_id", "made_at"),
    Index("ix_inquiries_party", "relying_party", "made_at"),
    Index("ix_inquiries_position", "position", unique=True),
)
"""Every check, written before its answer is returned: who asked what about whom, and the
scheme version, as-of date and ledger size that produced the answer (enough to replay it). A SQLite
ledger keeps it in its own file (:func:`xinyong.ledger.database.inquiry_log_path`). Each is an
entry of the inquiry log's Merkle tree (``position``, ``leaf_hash``; revision 0017 added them,
so the columns allow NULL, which ``ledger verify`` reports: :mod:`xinyong.ledger.inquiry_tree`).
``notice_hash`` (revision 0018): the SHA-256 of the adverse notice the check sent, if it sent
one (:mod:`xinyong.ledger.adverse_notices`).
"""

inquiry_checkpoints = Table(
    "inquiry_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("frontier", Text, nullable=False),
    Column("committed_at", String(32), nullable=False),
)
"""The inquiry log's tree head after every batch of checks (beside ``inquiries``)."""

ledger_identity = Table(
    "ledger_identity",
    metadata,
    Column("ledger_id", String(36), primary_key=True),
)
"""The ledger's id, recorded by its inquiry log file too (a SQLite ledger refuses another's)."""

objections = Table(
    "objections",
    metadata,
    Column("objection_id", String(36), primary_key=True),
    Column("subject_id", String(128), nullable=False),
    Column("source", String(64), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", Text),
    Column("status", String(16), nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("deadline", Date, nullable=False),
    Column("decided_at", String(32)),
    Column("decided_by", String(128)),
    Column("decision_reason", Text),
    Column("decided_on", Date),
    Column("furnisher_verdict", String(16)),
    Column("furnisher_statement", Text),
    Column("furnisher_evidence", Text),
    Column("answered_at", String(32)),
    Column("added_information", Text),
    Column("extended_at", String(32)),
    Index("ix_objections_subject", "subject_id"),
    Index("ix_objections_status", "status", "deadline"),
)
"""Objections to records: open, upheld, rejected, or lapsed (the deadline passed undecided)."""

repairs = Table(
    "repairs",
    metadata,
    Column("repair_id", String(36), primary_key=True),
    Column("subject_id", String(128), nullable=False),
    Column("source", String(64), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("decided_at", String(32)),
    Column("decided_by", String(128)),
    Column("decision_reason", Text),
    Column("decided_on", Date),
    Index("ix_repairs_subject", "subject_id"),
)
"""Credit repair requests: open, approved, rejected."""

reviews = Table(
    "reviews",
    metadata,
    Column("review_id", String(36), primary_key=True),
    Column("subject_id", String(128), nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target", String(300), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("deadline", Date, nullable=False),
    Column("decided_at", String(32)),
    Column("decided_by", String(128)),
    Column("decision_reason", Text),
    Column("voided", Text),
    Index("ix_reviews_subject", "subject_id"),
    Index("ix_reviews_status", "status", "deadline"),
)
"""Requests for a person to review an automated decision (a check, a listing, a standing):
open, confirmed or changed (``voided``: the records the reviewer found wrong, JSON)."""

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", String(36), primary_key=True),
    Column("subject_id", String(128), nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target_id", String(36), nullable=False),
    Column("first_decided_by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("deadline", Date, nullable=False),
    Column("decided_at", String(32)),
    Column("decided_by", String(128)),
    Column("decision_reason", Text),
    UniqueConstraint("target_kind", "target_id", name="uq_appeals_target"),
    Index("ix_appeals_subject", "subject_id"),
    Index("ix_appeals_status", "status", "deadline"),
)
"""Appeals of objection and repair decisions (one per decision): open, granted, dismissed."""

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("subject_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_notices_subject", "subject_id", "created_at"),
)
"""Notices to subjects (listing, adverse check, decisions), with records, rules and rights."""

pending_notices = Table(
    "pending_notices",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("subject_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_pending_notices_subject", "subject_id"),
)
"""Adverse-check notices written with their checks in the inquiry log's file (SQLite), on their
way to :data:`notices` (:func:`xinyong.decisions.notices.move_pending_notices`)."""

listings = Table(
    "listings",
    metadata,
    Column("scheme_id", String(64), primary_key=True),
    Column("list_id", String(128), primary_key=True),
    Column("subject_id", String(128), primary_key=True),
    Column("listed_on", Date, primary_key=True),
    Column("noticed_at", String(32), nullable=False),
    Column("public_from", Date, nullable=False),
    Column("delisted_on", Date),
    Column("entry_id", String(32)),
    Index("ix_listings_public", "scheme_id", "list_id", "public_from"),
    Index("ix_listings_subject", "subject_id", "scheme_id"),
    Index("ix_listings_entry", "entry_id", unique=True),
)
"""List memberships over time: when noticed, when public (after the grace period), when ended.
``entry_id`` is random: public pages name an entry by it, never by the subject's id."""

ingest_rejects = Table(
    "ingest_rejects",
    metadata,
    Column("reject_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("received_at", String(32), nullable=False),
    Column("origin", Text, nullable=False),
    Column("source", String(128)),
    Column("line", BigInteger, nullable=False),
    Column("field", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_ingest_rejects_received", "received_at"),
)
"""Rejected input rows for the operator: where, which line, which field, why. The rows' values
are not kept here (they may hold personal data of someone else); they stay in the submitter's
quarantine file or API answer."""

outbox = Table(
    "outbox",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("relying_party", String(128), nullable=False),
    Column("decision_id", String(36), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("attempts", BigInteger, nullable=False),
    Column("next_attempt_at", String(32), nullable=False),
    Column("delivered_at", String(32)),
    Column("last_error", Text),
    Column("recipient_kind", String(16), nullable=False, server_default="relying"),
    Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),
)
"""Messages to push to webhooks, signed, retried with backoff, surviving restarts: corrections
to relying parties (``recipient_kind`` ``relying``, ``relying_party`` the party,
``decision_id`` the corrected decision) and disputes to the sources that furnished the record
(``source``, the source's name, the objection's id)."""

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("key_id", String(24), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Index("ix_web_sessions_key", "key_id"),
)
"""Web portal sign-ins: the SHA-256 of a random session id (the cookie holds the id itself), the
API key it was opened with, and when it ends. A revoked key ends its sessions."""

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", BigInteger, primary_key=True),
    Column("witness", String(255), primary_key=True),
    Column("key_id", String(8), primary_key=True),
    Column("signed_at", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    Column("received_at", String(32), nullable=False),
)
"""Witnesses' cosignatures of the ledger's checkpoints (C2SP tlog-cosignature), from the
witnesses the ``witnesses`` setting names, verified when received: the newest per witness and
checkpoint size, published as extra signature lines of that checkpoint."""

operations = Table(
    "operations",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("tbl", String(32), nullable=False),
    Column("row_key", Text, nullable=False),
    Column("state", Text),
    Column("recorded_at", String(32), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Index("ix_operations_row", "tbl", "row_key", "position"),
)
"""The operations log, a second append-only Merkle tree: one entry per change of an operational
row, naming its table, its primary key (a JSON array) and its whole new state (canonical JSON;
NULL when the row was deleted). See :mod:`xinyong.ledger.operations`."""

operation_checkpoints = Table(
    "operation_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("frontier", Text, nullable=False),
    Column("committed_at", String(32), nullable=False),
)
"""The operations log's tree head after every change: size, Merkle root and frontier."""
