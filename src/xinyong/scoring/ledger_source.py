"""Reading what scoring needs from the ledger: effective records and registered subjects.

Ledger mode scores *every registered subject* of a scheme's kinds, over the records in force as
of the date (revocations, repairs and expiry by the catalog's maximum display period applied) as
known at a log size, so a standing can be reproduced later from ``(scheme version, as_of,
known_at)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    String,
    and_,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql

from xinyong.domain.catalog import Catalog
from xinyong.domain.chunks import chunked
from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.domain.records import InputRecord, RecordSpan
from xinyong.ledger.driver_sql import DriverStatement, as_date
from xinyong.ledger.effective import ENDING, VOIDING, current_subjects, effective_records
from xinyong.ledger.schema import events, records

__all__ = [
    "SUBJECTS_SCHEMA",
    "effective_table",
    "peer_spans",
    "subject_records",
    "subjects_records",
    "subjects_table",
]

_INPUT_COLUMNS = (
    records.c.position,
    records.c.record_id,
    records.c.subject_id,
    records.c.subject_kind,
    records.c.code,
    records.c.occurred_at,
    records.c.source,
    records.c.case_id,
    records.c.attrs,
)
"""The columns an :class:`InputRecord` is made of, in :func:`_input_record`'s order."""

SUBJECTS_SCHEMA = pa.schema([("subject_id", pa.string()), ("kind", pa.string())])
_CHUNK = 200_000


def effective_table(
    conn: Connection,
    as_of: date,
    known_at: int | None,
    catalog: Catalog | None,
    codes: tuple[str, ...] | None = None,
) -> pa.Table:
    """Effective records as an Arrow table in :data:`RECORDS_SCHEMA` (only ``codes``, if given)."""
    query = effective_records(as_of, known_at, catalog)
    if codes is not None:
        query = query.where(records.c.code.in_(codes))
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": _CHUNK})
    batches = []
    for rows in result.partitions(_CHUNK):
        batches.append(
            pa.RecordBatch.from_arrays(
                [
                    pa.array([r.record_id for r in rows], pa.string()),
                    pa.array([r.source for r in rows], pa.string()),
                    pa.array([r.subject_id for r in rows], pa.string()),
                    pa.array([r.subject_kind for r in rows], pa.string()),
                    pa.array([r.code for r in rows], pa.string()),
                    pa.array([r.occurred_at for r in rows], pa.date32()),
                    pa.array([r.case_id for r in rows], pa.string()),
                    pa.array([r.attrs for r in rows], pa.string()),
                ],
                schema=RECORDS_SCHEMA,
            )
        )
    return pa.Table.from_batches(batches, schema=RECORDS_SCHEMA)


def peer_spans(
    conn: Connection, start: date, end: date, known_at: int | None, catalog: Catalog | None
) -> list[RecordSpan]:
    """The interaction and rating records in force on some day from ``start`` to ``end``, each
    with the first day it is no longer in force, in ledger order.

    The same rules as :func:`~xinyong.ledger.effective.effective_records`, for every date of the
    period at once: a record is in force from its ``occurred_at`` until its first ``repaired``
    or ``expired`` event takes effect or its code's display period ends; a voided record never.
    """
    r, e = records.c, events.c
    known = known_at if known_at is not None else 2**62
    voided = exists().where(
        e.source == r.source,
        e.record_id == r.record_id,
        e.position < known,
        e.event_type.in_(VOIDING),
    )
    entries = {code: catalog.get(code) if catalog is not None else None for code in PEER_CODES}
    display = {code: None if x is None else x.max_display_days for code, x in entries.items()}
    query = (
        select(*_INPUT_COLUMNS)
        .where(r.code.in_(PEER_CODES), r.position < known, r.occurred_at <= end, ~voided)
        .order_by(r.position)
    )
    ending: dict[tuple[str, str], date] = {}
    for source, record_id, effective_on in conn.execute(
        select(e.source, e.record_id, func.min(e.effective_on))
        .join(records, and_(r.source == e.source, r.record_id == e.record_id))
        .where(r.code.in_(PEER_CODES), e.position < known, e.event_type.in_(ENDING))
        .group_by(e.source, e.record_id)
    ):
        ending[(source, record_id)] = as_date(effective_on)
    found = []
    for row in conn.execute(query):
        occurred = as_date(row.occurred_at)
        stops = [ending[key]] if (key := (row.source, row.record_id)) in ending else []
        days = display[row.code]
        if days is not None:
            stops.append(occurred + timedelta(days=days))
        stop = min(stops, default=None)
        if stop is not None and stop <= start:
            continue
        record = InputRecord(
            record_id=row.record_id,
            subject_id=row.subject_id,
            subject_kind=row.subject_kind,
            code=row.code,
            occurred_at=occurred,
            source=row.source,
            case_id=row.case_id,
            attrs=orjson.loads(row.attrs),
            position=row.position,
        )
        found.append(RecordSpan(record, stop))
    return found


def subjects_table(conn: Connection, known_at: int | None) -> pa.Table:
    """Registered subjects (newest version of each) as an Arrow table."""
    rows = conn.execute(current_subjects(known_at)).all()
    return pa.table(
        {"subject_id": [r.subject_id for r in rows], "kind": [r.kind for r in rows]},
        schema=SUBJECTS_SCHEMA,
    )


_STATEMENTS: dict[tuple[int, bool], tuple[Catalog | None, DriverStatement, tuple[int, ...]]] = {}


def _records_statement(
    catalog: Catalog | None, many: bool = False
) -> tuple[DriverStatement, tuple[int, ...]]:
    """Effective records as a statement built once, with bound parameters: of one subject
    (``subject_id``), or with ``many`` of an array of them (``subject_ids``, PostgreSQL).

    Building and compiling the statement costs more than SQLite's index search it runs; checks run
    it for every request, so it is compiled once per catalog (and dialect) and only its parameters
    change. The refresh after a batch of records reads a hundred subjects: as an array, the
    statement's text does not depend on how many, so it is neither built, compiled nor parsed by
    the driver again, and its rows come back as tuples, not SQLAlchemy rows.
    """
    cached = _STATEMENTS.get((id(catalog), many))
    if cached is not None and cached[0] is catalog:
        return cached[1], cached[2]
    r, e = records.c, events.c
    as_of = bindparam("as_of", type_=Date)
    known_at = bindparam("known_at", type_=BigInteger)
    stopped = exists().where(
        e.source == r.source,
        e.record_id == r.record_id,
        e.position < known_at,
        or_(e.event_type.in_(VOIDING), and_(e.event_type.in_(ENDING), e.effective_on <= as_of)),
    )
    periods: tuple[int, ...] = ()
    placeholders: dict[str, object] = {"as_of": date.min, "known_at": 0}
    if many:
        subject = r.subject_id == any_(bindparam("subject_ids", type_=postgresql.ARRAY(String)))
        placeholders["subject_ids"] = [""]
    else:
        subject = r.subject_id == bindparam("subject_id")
        placeholders["subject_id"] = ""
    conditions = [subject, r.occurred_at <= as_of, r.position < known_at, ~stopped]
    if catalog is not None:
        groups = catalog.codes_by_max_display()
        periods = tuple(days for days, _ in groups)
        for days, codes in groups:
            cutoff = bindparam(f"cutoff_{days}", type_=Date)
            placeholders[f"cutoff_{days}"] = date.min
            conditions.append(~and_(r.code.in_(codes), r.occurred_at <= cutoff))
    statement = DriverStatement(
        select(*_INPUT_COLUMNS).where(*conditions).order_by(r.position),
        placeholders,
    )
    _STATEMENTS[id(catalog), many] = (catalog, statement, periods)
    return statement, periods


def _records_params(
    as_of: date, known_at: int | None, periods: tuple[int, ...]
) -> dict[str, object]:
    params: dict[str, object] = {
        "as_of": as_of,
        "known_at": known_at if known_at is not None else 2**62,
    }
    for days in periods:
        params[f"cutoff_{days}"] = as_of - timedelta(days=days)
    return params


def subject_records(
    conn: Connection,
    subject_id: str,
    as_of: date,
    known_at: int | None,
    catalog: Catalog | None,
) -> list[InputRecord]:
    """One subject's effective records: the per-subject path of the reference evaluator.

    The same rules as :func:`~xinyong.ledger.effective.effective_records` (a test checks that
    both give the same records).
    """
    statement, periods = _records_statement(catalog)
    params = {**_records_params(as_of, known_at, periods), "subject_id": subject_id}
    return [_input_record(row) for row in statement.rows(conn, params)]


def subjects_records(
    conn: Connection,
    subject_ids: Sequence[str],
    as_of: date,
    known_at: int | None,
    catalog: Catalog | None,
) -> dict[str, list[InputRecord]]:
    """:func:`subject_records` for many subjects, with a few queries for all of them (the
    refresh after a batch of records touches a hundred subjects at once): on PostgreSQL the
    subjects go as an array (:func:`_records_statement`), elsewhere as ``IN`` lists. Every given
    id is a key, with no records if it has none."""
    found: dict[str, list[InputRecord]] = {subject_id: [] for subject_id in subject_ids}
    if not found:  # a person no organisation names: no statement to build (a millisecond)
        return found
    chunks: Iterator[Iterable[Sequence[Any]]]
    if conn.dialect.name == "postgresql":
        statement, periods = _records_statement(catalog, many=True)
        params = _records_params(as_of, known_at, periods)
        chunks = (
            statement.rows(conn, {**params, "subject_ids": list(chunk)})
            for chunk in chunked(sorted(found))
        )
    else:
        query = effective_records(as_of, known_at, catalog).with_only_columns(*_INPUT_COLUMNS)
        chunks = (
            conn.execute(query.where(records.c.subject_id.in_(chunk)))
            for chunk in chunked(sorted(found))
        )
    for rows in chunks:
        for row in rows:
            record = _input_record(tuple(row))
            found[record.subject_id].append(record)  # in log order, as subject_records gives
    return found


def _input_record(row: tuple[Any, ...]) -> InputRecord:
    position, record_id, subject, kind, code, occurred_at, source, case_id, attrs = row
    return InputRecord(
        record_id=record_id,
        subject_id=subject,
        subject_kind=kind,
        code=code,
        occurred_at=as_date(occurred_at),
        source=source,
        case_id=case_id,
        attrs=orjson.loads(attrs),
        position=position,
    )
