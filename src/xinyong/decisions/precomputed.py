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
exists, in one snapshot. When none does, the stored answer is the answer as of the current size:
replaying the decision at that size (:mod:`xinyong.decisions.replay`) recomputes the same
standing. When one does, or the subject has no stored row, or no run exists for the date, the
caller computes the standing from the subject's records as before; the precomputed path is a
shortcut with the same answer, never a second source of truth.

Peer schemes are excluded: a peer score depends on ratings between other subjects, so a record
anywhere in the ledger can change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    String,
    and_,
    bindparam,
    case,
    exists,
    or_,
    select,
)

from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.schema import checkpoints, events, records, standing_runs, standings, subjects
from xinyong.schemes.load import LoadedScheme
from xinyong.ttl import TtlCache

__all__ = ["Precomputed", "PrecomputedStandings"]


@dataclass(frozen=True, slots=True)
class Precomputed:
    """A stored standing that is still current: its measures, and the ledger size it holds at."""

    size: int
    measures: frozenset[str]


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


def _current_statement() -> DriverStatement:
    subject = bindparam("subject_id", type_=String)
    since = bindparam("since", type_=BigInteger)
    r, s, e = records.c, subjects.c, events.c
    head = select(checkpoints.c.size).order_by(checkpoints.c.size.desc()).limit(1)
    stored = select(standings.c.measures).where(
        standings.c.run_id == bindparam("run_id"), standings.c.subject_id == subject
    )
    event_on_record = (
        select(e.position)
        .select_from(records.join(events, and_(e.source == r.source, e.record_id == r.record_id)))
        .where(r.subject_id == subject, e.position >= since)
    )
    # Each kind of entry is looked for in two steps: any at all since the run (one step to the end
    # of an index), then the subject's own, only when there are some. A quiet ledger costs three
    # one-step probes; new subject versions and lifecycle events are rare even while records are
    # appended. The steps are a CASE condition because there they short-circuit: in a result
    # column SQLite evaluates both sides of AND and OR, and the subject's lifecycle events (a
    # join over its records) cost more than the rest of the statement.
    changed = case(
        (
            or_(
                and_(
                    exists().where(r.position >= since),
                    exists().where(r.subject_id == subject, r.position >= since),
                ),
                and_(
                    exists().where(s.position >= since),
                    exists().where(s.subject_id == subject, s.position >= since),
                ),
                and_(exists().where(e.position >= since), exists(event_on_record)),
            ),
            1,
        ),
        else_=0,
    )
    return DriverStatement(
        select(
            head.scalar_subquery().label("head"),
            stored.scalar_subquery().label("measures"),
            changed.label("changed"),
        ),
        {"subject_id": "", "since": 0, "run_id": ""},
    )


_CURRENT = _current_statement()


class PrecomputedStandings:
    """Finds the newest stored run per scheme version and date (cached for ``cache_seconds``,
    so a refresh made by another process is used within that time) and reads stored standings
    that are still current."""

    def __init__(self, cache_seconds: float = 0.0) -> None:
        self._runs: TtlCache[tuple[str, str, date], tuple[str, int] | None] = TtlCache(
            cache_seconds, max_entries=1_000
        )

    def invalidate(self) -> None:
        """Forget which runs exist (a refresh was saved through this process)."""
        self._runs.clear()

    def read(
        self, conn: Connection, loaded: LoadedScheme, subject_id: str, as_of: date
    ) -> Precomputed | None:
        """The stored standing of ``subject_id`` if it is current; None when it must be computed."""
        if loaded.scheme.peer is not None:
            return None
        key = (loaded.scheme.id, loaded.version, as_of)
        run = self._runs.get(key, lambda: _newest_run(conn, *key))
        if run is None:
            return None
        run_id, known_at = run
        head, measures, changed = _CURRENT.rows(
            conn, {"subject_id": subject_id, "since": known_at, "run_id": run_id}
        )[0]
        if measures is None or changed:
            return None
        return Precomputed(int(head), frozenset(m for m in str(measures).split(";") if m))


def _newest_run(
    conn: Connection, scheme_id: str, version: str, as_of: date
) -> tuple[str, int] | None:
    found = _RUN.rows(conn, {"scheme_id": scheme_id, "version": version, "as_of": as_of})
    return None if not found else (str(found[0][0]), int(found[0][1]))
