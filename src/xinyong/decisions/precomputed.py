"""Checks answered from precomputed standings, with one indexed read.

A batch refresh (``xinyong standings refresh``, or ``score --save``) stores every subject's
standing under a scheme version as of a date and as known at a ledger size ``K``. For a check made
on that date, the stored measures are still the answer unless something about the subject entered
the ledger at or after ``K``:

- a record about the subject;
- a new version of the subject (kind, identifiers);
- a lifecycle event (revocation, suppression, correction, repair, expiry) of one of the
  subject's records.

One statement reads the ledger's current size, the stored measures and whether any of these
exists, in one snapshot, and whether a relation record names the subject (then a measure that
extends to related parties is decided in full: it may apply through an organisation). When none
of them exists, the stored answer is the answer as of the current size: replaying the decision at
that size (:mod:`xinyong.decisions.replay`) recomputes the same standing. When one does, or the
subject has no stored row, or no run exists for the date, the caller computes the standing from
the subject's records as before; the precomputed path is a shortcut with the same answer, never a
second source of truth.

Peer schemes are excluded: a peer score depends on ratings between other subjects, so a record
anywhere in the ledger can change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    String,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql

from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.related_index import IS_RELATION, named_person
from xinyong.ledger.schema import checkpoints, events, records, standing_runs, standings, subjects
from xinyong.schemes.load import LoadedScheme
from xinyong.ttl import MISSING, Missing, TtlCache

__all__ = ["CURRENT", "CURRENT_MANY", "Precomputed", "PrecomputedStandings", "Run", "current"]


@dataclass(frozen=True, slots=True)
class Precomputed:
    """A stored standing that is still current: its measures, and the ledger size it holds at."""

    size: int
    measures: frozenset[str]
    adverse: str | None = None
    """What an adverse notice names (JSON), stored for a subject a sanction applies to."""
    named: bool = False
    """A relation record names the subject (:mod:`xinyong.domain.relations`): a measure that
    extends to related parties must then be decided in full."""


_RUN = DriverStatement(
    select(standing_runs.c.run_id, standing_runs.c.known_at)
    .where(
        standing_runs.c.scheme_id == bindparam("scheme_id"),
        standing_runs.c.version == bindparam("version"),
        standing_runs.c.as_of == bindparam("as_of", type_=Date),
    )
    .order_by(standing_runs.c.known_at.desc(), standing_runs.c.computed_at.desc())
    .limit(1),
    {"scheme_id": "", "version": "", "as_of": date.min},
)


def _current_columns(subject: ColumnElement[str]) -> list[ColumnElement[Any]]:
    """The ledger's size, the stored measures of ``subject`` and whether it changed since."""
    since = bindparam("since", type_=BigInteger)
    r, s, e = records.c, subjects.c, events.c
    head = select(func.max(checkpoints.c.size))

    def stored(value: ColumnElement[Any]) -> ColumnElement[Any]:
        # One scalar subquery per column: each is a step down the primary key to the same row.
        return (
            select(value)
            .where(standings.c.run_id == bindparam("run_id"), standings.c.subject_id == subject)
            .scalar_subquery()
        )

    event_on_record = (
        select(e.position)
        .select_from(records.join(events, and_(e.source == r.source, e.record_id == r.record_id)))
        .where(r.subject_id == subject, e.position >= since)
    )

    def newest(position: ColumnElement[int]) -> ColumnElement[bool]:
        # The newest entry of a table against the run, as max(): one step to the end of the
        # primary key whatever the planner estimates (PostgreSQL planned EXISTS (position >= K)
        # as a sequential scan, expecting a third of the table to match). An empty table counts
        # as -1, not NULL, so that AND need not look at its other side.
        return func.coalesce(select(func.max(position)).scalar_subquery(), -1) >= since

    # Each kind of entry is looked for in two steps: is there any at all since the run, then the
    # subject's own, only when there are some. A quiet ledger costs three one-step probes; new
    # subject versions and lifecycle events are rare even while records are appended. The steps
    # are a CASE condition because there they short-circuit (SQLite evaluates both sides of AND
    # and OR in a result column; PostgreSQL runs an InitPlan only when its value is needed), and
    # the subject's lifecycle events (a join over its records) cost more than the rest.
    def newest_of_subject(position: ColumnElement[int], subject_id: ColumnElement[str]) -> Any:
        # The subject's newest entry, also as max(): one step down the (subject_id, position)
        # index. Written as EXISTS (subject_id = S AND position >= K), a plan made without K's
        # value (the generic plan the service's connections use, see stored_reads) walked the
        # primary key from K instead, through every entry appended since the run.
        found = select(func.max(position)).where(subject_id == subject).scalar_subquery()
        return func.coalesce(found, -1) >= since

    changed = case(
        (
            or_(
                and_(newest(r.position), newest_of_subject(r.position, r.subject_id)),
                and_(newest(s.position), newest_of_subject(s.position, s.subject_id)),
                and_(newest(e.position), exists(event_on_record)),
            ),
            1,
        ),
        else_=0,
    )
    # Whether any relation record names the subject: then a measure that extends to related
    # parties may apply through an organisation, which the subject's own standing cannot say.
    named = case(
        (exists(select(r.position).where(IS_RELATION, named_person(r.attrs) == subject)), 1),
        else_=0,
    )
    return [
        head.scalar_subquery().label("head"),
        stored(standings.c.measures).label("measures"),
        changed.label("changed"),
        stored(standings.c.adverse).label("adverse"),
        named.label("named"),
    ]


CURRENT = DriverStatement(
    select(*_current_columns(bindparam("subject_id", type_=String))),
    {"subject_id": "", "since": 0, "run_id": ""},
)
"""The one read that tells whether a stored standing is current (:meth:`PrecomputedStandings.probe`
gives its parameters, :func:`current` reads its row)."""


def _current_many() -> DriverStatement:
    given = (
        func.json_array_elements_text(bindparam("subject_ids", type_=postgresql.JSON))
        .table_valued(column("value", String))
        .render_derived()
        .alias("given")
    )
    return DriverStatement(
        select(given.c.value, *_current_columns(given.c.value)).select_from(given),
        {"subject_ids": "[]", "since": 0, "run_id": ""},
    )


CURRENT_MANY = _current_many()
""":data:`CURRENT` for many subjects of one run at once (PostgreSQL; ``subject_ids`` a JSON array
of ids, serialised in one call): one row per given subject,
the subject first. The ledger-wide probes run once for all of them. The service reads the stored
standings of concurrent checks this way (:mod:`xinyong.application.stored_reads`)."""

Run = tuple[str, int]
"""A stored run: its id and the ledger size it was computed at."""


def current(row: Sequence[Any]) -> Precomputed | None:
    """The stored standing in a row of :data:`CURRENT`, if it is still current."""
    head, measures, changed, adverse, named = row
    if measures is None or changed:
        return None
    measured = frozenset(m for m in str(measures).split(";") if m)
    return Precomputed(int(head), measured, None if adverse is None else str(adverse), bool(named))


class PrecomputedStandings:
    """Finds the newest stored run per scheme version and date (cached for ``cache_seconds``,
    so a refresh made by another process is used within that time) and reads stored standings
    that are still current."""

    def __init__(self, cache_seconds: float = 0.0) -> None:
        self._runs: TtlCache[tuple[str, str, date], Run | None] = TtlCache(
            cache_seconds, max_entries=1_000
        )

    def invalidate(self) -> None:
        """Forget which runs exist (a refresh was saved through this process)."""
        self._runs.clear()

    def probe(
        self, conn: Connection | None, loaded: LoadedScheme, subject_id: str, as_of: date
    ) -> dict[str, object] | Missing | None:
        """The parameters of :data:`CURRENT` for ``subject_id``; None when no stored standing can
        answer (a peer scheme, no run for the date). Without ``conn`` only what is cached is
        used: :data:`~xinyong.ttl.MISSING` when the run must first be looked up."""
        if loaded.scheme.peer is not None:
            return None
        key = (loaded.scheme.id, loaded.version, as_of)
        if conn is None:
            run = self._runs.peek(key)
            if run is MISSING:
                return MISSING
        else:
            run = self._runs.get(key, lambda: _newest_run(conn, *key))
        if run is None:
            return None
        return {"subject_id": subject_id, "since": run[1], "run_id": run[0]}

    def read(
        self, conn: Connection, loaded: LoadedScheme, subject_id: str, as_of: date
    ) -> Precomputed | None:
        """The stored standing of ``subject_id`` if it is current; None when it must be computed."""
        params = self.probe(conn, loaded, subject_id, as_of)
        if params is None or params is MISSING:
            return None
        return current(CURRENT.rows(conn, params)[0])


def _newest_run(conn: Connection, scheme_id: str, version: str, as_of: date) -> Run | None:
    found = _RUN.rows(conn, {"scheme_id": scheme_id, "version": version, "as_of": as_of})
    return None if not found else (str(found[0][0]), int(found[0][1]))
