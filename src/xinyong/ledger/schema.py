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
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "checkpoints",
    "events",
    "metadata",
    "records",
    "schemes",
    "standing_runs",
    "standings",
    "subjects",
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
    Index("ix_subjects_subject_id", "subject_id"),
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
    Index("ix_records_subject_id", "subject_id"),
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
    Index("ix_standings_subject", "subject_id"),
)
"""Standings per subject and run; reproducible from the run's scheme version and ledger head."""
