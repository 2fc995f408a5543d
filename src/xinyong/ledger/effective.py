"""Effective records: the records in force as of a valid date, as known at a log position.

Two times matter for every decision (bitemporal data):

- *valid time* ``as_of``: the date the question is about. A record counts from its
  ``occurred_at``; a ``repaired`` or ``expired`` event stops it counting from the event's
  ``effective_on``; with a catalog, a record also stops at its code's maximum display period.
- *knowledge time* ``known_at``: a log size. Only entries at positions below it are used, so a
  past decision can be replayed exactly as the ledger stood when it was made.

A ``revoked`` event (an upheld objection, a record furnished in error), a ``suppressed`` event
(an objection left undecided past its deadline: what cannot be verified does not count) or a
``corrected`` event (the record was replaced by a corrected one, itself a new record) removes the
record for every valid time: it should never have counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
)

from xinyong.domain.catalog import Catalog
from xinyong.domain.chunks import chunked
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.schema import events, records, subjects

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "ENDING",
    "VOIDING",
    "EventType",
    "current_subjects",
    "current_subjects_expr",
    "effective_records",
    "effective_records_expr",
    "subject_kind_at",
    "subject_kinds_at",
    "subject_version",
]


class EventType(StrEnum):
    """Lifecycle events that reference a record."""

    REVOKED = "revoked"
    SUPPRESSED = "suppressed"
    CORRECTED = "corrected"
    REPAIRED = "repaired"
    EXPIRED = "expired"


VOIDING = (EventType.REVOKED.value, EventType.SUPPRESSED.value, EventType.CORRECTED.value)
"""Events that void a record for every valid time."""
ENDING = (EventType.REPAIRED.value, EventType.EXPIRED.value)
"""Events that end a record from their ``effective_on``."""


def _expired_by_catalog(as_of: date, catalog: Catalog) -> ColumnElement[bool]:
    clauses = [
        and_(
            records.c.code.in_(sorted(codes)),
            records.c.occurred_at <= as_of - timedelta(days=days),
        )
        for days, codes in catalog.codes_by_max_display()
    ]
    return or_(false(), *clauses)


def effective_records(
    as_of: date,
    known_at: int | None = None,
    catalog: Catalog | None = None,
) -> Select[tuple[object, ...]]:
    """A query for the records in force on ``as_of`` as known at log size ``known_at``.

    ``known_at`` None means everything committed. With ``catalog``, records past their code's
    maximum display period are left out (they expire by themselves).
    """
    r, e = records.c, events.c
    event_known = e.position < known_at if known_at is not None else true()
    stopped = exists().where(
        e.source == r.source,
        e.record_id == r.record_id,
        event_known,
        or_(
            e.event_type.in_(VOIDING),
            and_(e.event_type.in_(ENDING), e.effective_on <= as_of),
        ),
    )
    conditions: list[ColumnElement[bool]] = [r.occurred_at <= as_of, ~stopped]
    if known_at is not None:
        conditions.append(r.position < known_at)
    if catalog is not None:
        conditions.append(~_expired_by_catalog(as_of, catalog))
    columns = [
        r.position,
        r.record_id,
        r.subject_id,
        r.subject_kind,
        r.code,
        r.occurred_at,
        r.source,
        r.case_id,
        r.attrs,
        r.evidence,
        r.recorded_at,
    ]
    return select(*columns).where(*conditions).order_by(r.position)


def subject_version(
    conn: Connection, subject_id: str, known_at: int | None = None
) -> Row[Any, Any, Any, Any, Any] | None:
    """The newest version of one subject (an index lookup, for per-subject paths)."""
    s = subjects.c
    query = select(s.position, s.subject_id, s.kind, s.display_name, s.identifiers).where(
        s.subject_id == subject_id
    )
    if known_at is not None:
        query = query.where(s.position < known_at)
    return conn.execute(query.order_by(s.position.desc()).limit(1)).first()


_KIND = DriverStatement(
    select(subjects.c.kind)
    .where(
        subjects.c.subject_id == bindparam("subject_id"),
        subjects.c.position < bindparam("known_at", type_=BigInteger),
    )
    .order_by(subjects.c.position.desc())
    .limit(1),
    {"subject_id": "", "known_at": 0},
)


def subject_kind_at(conn: Connection, subject_id: str, known_at: int | None = None) -> str | None:
    """The kind of a subject's newest version as known at a log size (None: unregistered).

    The per-check lookup: one index search, compiled once (see :mod:`~xinyong.ledger.driver_sql`).
    """
    found = _KIND.rows(
        conn, {"subject_id": subject_id, "known_at": 2**62 if known_at is None else known_at}
    )
    return None if not found else str(found[0][0])


def subject_kinds_at(
    conn: Connection, subject_ids: Sequence[str], known_at: int | None = None
) -> dict[str, str]:
    """:func:`subject_kind_at` for many subjects (a few ``IN`` queries); unregistered ids are
    left out."""
    s = subjects.c
    kinds: dict[str, str] = {}
    for chunk in chunked(sorted(set(subject_ids))):
        query = select(s.subject_id, s.kind).where(s.subject_id.in_(chunk))
        if known_at is not None:
            query = query.where(s.position < known_at)
        for subject_id, kind in conn.execute(query.order_by(s.position)):
            kinds[str(subject_id)] = str(kind)  # the newest version comes last
    return kinds


def current_subjects(known_at: int | None = None) -> Select[tuple[object, ...]]:
    """The newest version of every subject (as known at log size ``known_at``).

    Written as "no newer version" (an anti-join on the ``(subject_id, position)`` index), not as
    ``position IN (SELECT max(position) ... GROUP BY subject_id)``: joined to a list's entries,
    SQLite ran that subquery again for every entry (a list of 3,000 took a second)."""
    s = subjects.c
    newer = subjects.alias("newer")
    later = (newer.c.subject_id == s.subject_id) & (newer.c.position > s.position)
    if known_at is not None:
        later = later & (newer.c.position < known_at)
    query = select(s.position, s.subject_id, s.kind, s.display_name, s.identifiers).where(
        ~exists().where(later)
    )
    if known_at is not None:
        query = query.where(s.position < known_at)
    return query.order_by(s.subject_id)


def effective_records_expr(
    records: ir.Table,
    events: ir.Table,
    as_of: date,
    known_at: int | None = None,
    catalog: Catalog | None = None,
) -> ir.Table:
    """:func:`effective_records` as an Ibis expression over the ledger's own tables.

    The same rules, for engines that run a compiled scheme inside the database (PostgreSQL)
    instead of reading the records out first.
    """
    stops = events.filter(
        events.event_type.isin(list(VOIDING))
        | (events.event_type.isin(list(ENDING)) & (events.effective_on <= as_of))
    )
    if known_at is not None:
        stops = stops.filter(stops.position < known_at)
        records = records.filter(records.position < known_at)
    records = records.filter(records.occurred_at <= as_of)
    if catalog is not None:
        for days, codes in catalog.codes_by_max_display():
            cutoff = as_of - timedelta(days=days)
            records = records.filter(~(records.code.isin(codes) & (records.occurred_at <= cutoff)))
    stopped = stops.select("source", "record_id").distinct()
    return records.anti_join(stopped, ["source", "record_id"])


def current_subjects_expr(subjects: ir.Table, known_at: int | None = None) -> ir.Table:
    """:func:`current_subjects` as an Ibis expression: ``subject_id, kind``."""
    if known_at is not None:
        subjects = subjects.filter(subjects.position < known_at)
    newest = subjects.group_by("subject_id").aggregate(position=subjects.position.max())
    joined = subjects.join(newest, ["subject_id", "position"])
    return joined.select("subject_id", "kind")
