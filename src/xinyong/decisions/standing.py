"""One subject's standing under the active schemes, computed at the moment it is asked for.

Checks, the subject's file and replays all come through here: the reference evaluator over the
subject's effective records as of a date and as known at a log size. Computing on demand (a few
milliseconds per subject) means a record that expired a second ago no longer counts, with no
batch refresh in between.

A scheme with a ``[peer]`` section also needs the subject's peer score, which depends on the
whole rating graph: the graph's scores are computed once per scheme version, date and ledger
checkpoint (its Merkle root names the exact ledger content), kept for the next questions and
moved forward as ratings arrive (:mod:`xinyong.decisions.peer_cache`). A series of dates (a
score history, an outlook) reads the rating records once for all of them
(:func:`standings_on`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from xinyong.decisions.peer_cache import PeerCache
from xinyong.domain.catalog import Catalog
from xinyong.domain.records import InputRecord
from xinyong.ledger.effective import subject_kind_at, subject_kinds_at
from xinyong.ledger.schema import schemes
from xinyong.peer.algorithms import PeerScores
from xinyong.peer.result import PeerScore
from xinyong.peer.timeline import PeerTimeline
from xinyong.schemes.eligibility import ineligibility
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.ledger_source import peer_spans, subject_records, subjects_records
from xinyong.scoring.reference import Explanation, explain_subject
from xinyong.scoring.store import (
    gate_findings,
    load_stored_scheme,
    recorded_overrides,
    unmet,
)
from xinyong.ttl import MISSING, Missing, TtlCache

log = logging.getLogger("xinyong.schemes")

__all__ = [
    "PEER_CACHE",
    "SchemeRegistry",
    "SubjectStanding",
    "peer_scores_of",
    "standing_of",
    "standings_of_many",
    "standings_on",
    "subject_kind",
]


@dataclass(frozen=True, slots=True)
class SubjectStanding:
    """A subject's explained standing under one scheme version (None: not scored by it)."""

    loaded: LoadedScheme
    explanation: Explanation | None
    ineligible: str | None = None
    """Why the scheme may not score the subject (its ``[eligibility]``), when that is why."""


class SchemeRegistry:
    """Active scheme versions, parsed once per version and kept.

    Which versions are active is read from the ledger on every call, or, with ``cache_seconds``
    (the service), at most that often and at once after :meth:`invalidate`.
    """

    def __init__(self, cache_seconds: float = 0.0, catalog: Catalog | None = None) -> None:
        self.catalog = catalog
        """The catalog in force: the gate is checked again under it (see :meth:`active`)."""
        self._parsed: dict[tuple[str, str], LoadedScheme] = {}
        self._unmet: dict[tuple[tuple[str, str], int], list[str]] = {}
        self._active: TtlCache[str, tuple[tuple[str, str], ...]] = TtlCache(cache_seconds)
        self._overrides: dict[tuple[str, str], tuple[dict[str, str], ...]] = {}

    def invalidate(self) -> None:
        """Forget which versions are active (a scheme was added or activated)."""
        self._active.clear()

    def get(self, conn: Connection, scheme_id: str, version: str) -> LoadedScheme:
        """A stored version (parsed on first use)."""
        key = (scheme_id, version)
        if key not in self._parsed:
            self._parsed[key] = load_stored_scheme(conn, scheme_id, version)
        return self._parsed[key]

    def active(self, conn: Connection) -> list[LoadedScheme]:
        """Every active scheme, by id."""

        def load() -> tuple[tuple[str, str], ...]:
            rows = conn.execute(
                select(schemes.c.scheme_id, schemes.c.version)
                .where(schemes.c.active.is_(True))
                .order_by(schemes.c.scheme_id)
            ).all()
            keys = tuple((str(r.scheme_id), str(r.version)) for r in rows)
            found: dict[tuple[str, str], list[dict[str, str]]] = {}
            for r in recorded_overrides(conn):
                found.setdefault((r.scheme_id, r.version), []).append(r.public())
            for key, given in found.items():
                # A version's overrides only grow; a slower, older read never shrinks them,
                # and a version stays known after another is activated (checks decided under
                # it may still be answered).
                if len(given) >= len(self._overrides.get(key, ())):
                    self._overrides[key] = tuple(given)
            return tuple(key for key in keys if not self._blocked(conn, key, found.get(key, [])))

        return [self.get(conn, *key) for key in self._active.get("active", load)]

    def _blocked(self, conn: Connection, key: tuple[str, str], given: list[dict[str, str]]) -> bool:
        """Whether an active version fails the gate under :attr:`catalog`: activated before
        the gate existed, or under another catalog. It then decides nothing (its measures are
        answered as defined by no active scheme) until it is activated again through the gate;
        the refusal is logged once per version and count of overrides."""
        cached = (key, len(given))
        if cached not in self._unmet:
            findings = gate_findings(self.get(conn, *key), self.catalog)
            left = unmet(findings, (o["finding"] for o in given))
            self._unmet[cached] = [f.ref for f in left]
            if left:
                log.error(
                    "scheme %s %s is active but decides nothing: no override on the record "
                    "for %s; activate it again through the gate (xinyong scheme activate)",
                    key[0],
                    key[1][:12],
                    ", ".join(f.ref for f in left),
                )
        return bool(self._unmet[cached])

    def overrides(self, scheme_id: str, version: str) -> tuple[dict[str, str], ...]:
        """The overrides a version was activated under, as read with the active versions
        (a check decided under it returns them)."""
        return self._overrides.get((scheme_id, version), ())

    def for_measure(self, conn: Connection, measure: str) -> LoadedScheme | None:
        """The active scheme that defines ``measure`` (ids are unique across active schemes)."""
        return _defining(self.active(conn), measure)

    def peek_for_measure(self, measure: str) -> LoadedScheme | Missing | None:
        """:meth:`for_measure` from what is cached, or :data:`~xinyong.ttl.MISSING` when the
        active versions (or one of them) must first be read."""
        keys = self._active.peek("active")
        if keys is MISSING or any(key not in self._parsed for key in keys):
            return MISSING
        return _defining([self._parsed[key] for key in keys], measure)


def _defining(active: list[LoadedScheme], measure: str) -> LoadedScheme | None:
    for loaded in active:
        if any(m.id == measure for m in loaded.scheme.measures):
            return loaded
    return None


def subject_kind(conn: Connection, subject_id: str, known_at: int | None) -> str | None:
    """The registered kind of a subject as known at a log size, or None if unregistered."""
    return subject_kind_at(conn, subject_id, known_at)


PEER_CACHE = PeerCache()
"""Peer runs kept for the next questions, and moved forward as ratings arrive."""


def peer_scores_of(
    conn: Connection,
    loaded: LoadedScheme,
    as_of: date,
    known_at: int,
    catalog: Catalog | None,
) -> PeerScores:
    """The peer scores of every subject under ``loaded`` as of a date, as known at a log size."""
    return PEER_CACHE.scores(conn, loaded, as_of, known_at, catalog)


def standing_of(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    as_of: date,
    known_at: int,
    catalog: Catalog | None,
) -> SubjectStanding:
    """The explained standing of one registered subject (None when the scheme does not score it)."""
    kind = subject_kind(conn, subject_id, known_at)
    if kind is None or kind not in loaded.scheme.subject_kinds:
        return SubjectStanding(loaded, None)
    peer: PeerScore | None = None
    if loaded.scheme.peer is not None:
        peer = PEER_CACHE.explain(conn, loaded, subject_id, as_of, known_at, catalog)
    return _standing(conn, loaded, subject_id, kind, as_of, known_at, catalog, peer)


def standings_of_many(
    conn: Connection,
    loaded: LoadedScheme,
    subject_ids: Sequence[str],
    as_of: date,
    known_at: int,
    catalog: Catalog | None,
) -> dict[str, SubjectStanding]:
    """:func:`standing_of` for many subjects, their kinds and records read with a few
    statements for all of them instead of two each (a batch of records touches a hundred
    subjects, and the refresh after it is on the submitter's clock). Same answers: the
    per-subject path is the reference, and a property test compares the two."""
    ids = sorted(set(subject_ids))
    if loaded.scheme.peer is not None:
        return {s: standing_of(conn, loaded, s, as_of, known_at, catalog) for s in ids}
    kinds = subject_kinds_at(conn, ids, known_at)
    scored = [s for s in ids if kinds.get(s) in loaded.scheme.subject_kinds]
    found = subjects_records(conn, scored, as_of, known_at, catalog)
    return {
        s: _explained(loaded, s, kinds[s], found[s], as_of, None)
        if s in found
        else SubjectStanding(loaded, None)
        for s in ids
    }


def standings_on(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    days: Sequence[date],
    known_at: int,
    catalog: Catalog | None,
) -> Iterator[tuple[date, SubjectStanding]]:
    """The subject's standing on each of ``days``, as :func:`standing_of` gives it.

    Under a peer scheme the peer records of the whole period are read once
    (:class:`~xinyong.peer.timeline.PeerTimeline`) and each day's rating graph is selected from
    them: one read of the ledger for the series, one graph in memory at a time, and nothing
    pushed out of the cache checks rely on.
    """
    kind = subject_kind(conn, subject_id, known_at)
    if not days or kind is None or kind not in loaded.scheme.subject_kinds:
        yield from ((day, SubjectStanding(loaded, None)) for day in days)
        return
    section = loaded.scheme.peer
    timeline = None
    if section is not None:
        spans = peer_spans(conn, min(days), max(days), known_at, catalog)
        timeline = PeerTimeline(section, loaded.scheme.subject_kinds, spans)
    for day in days:
        peer = None if timeline is None else timeline.scores_at(day).explain(subject_id)
        yield day, _standing(conn, loaded, subject_id, kind, day, known_at, catalog, peer)


def _standing(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    kind: str,
    as_of: date,
    known_at: int,
    catalog: Catalog | None,
    peer: PeerScore | None,
) -> SubjectStanding:
    found = subject_records(conn, subject_id, as_of, known_at, catalog)
    return _explained(loaded, subject_id, kind, found, as_of, peer)


def _explained(
    loaded: LoadedScheme,
    subject_id: str,
    kind: str,
    found: Sequence[InputRecord],
    as_of: date,
    peer: PeerScore | None,
) -> SubjectStanding:
    """The standing from the subject's records, or why the scheme may not score the subject."""
    reason = ineligibility(loaded.scheme, subject_id, kind, found, as_of)
    if reason is not None:
        return SubjectStanding(loaded, None, reason)
    return SubjectStanding(loaded, explain_subject(loaded.scheme, subject_id, found, as_of, peer))
