"""One subject's standing under the active schemes, computed at the moment it is asked for.

Checks, the subject's file and replays all come through here: the reference evaluator over the
subject's effective records as of a date and as known at a log size. Computing on demand (a few
milliseconds per subject) means a record that expired a second ago no longer counts, with no
batch refresh in between.

A scheme with a ``[peer]`` section also needs the subject's peer score, which depends on the
whole rating graph: the graph's scores are computed once per scheme version, date and ledger
checkpoint (its Merkle root names the exact ledger content) and kept for the next questions.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from xinyong.domain.catalog import Catalog
from xinyong.ledger.append import read_checkpoint
from xinyong.ledger.effective import subject_kind_at
from xinyong.ledger.schema import schemes
from xinyong.peer.algorithms import PeerScores, compute_peer_scores
from xinyong.peer.graph import graph_from_table
from xinyong.peer.result import PeerScore
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.ledger_source import peer_table, subject_records
from xinyong.scoring.reference import Explanation, explain_subject
from xinyong.scoring.store import load_stored_scheme
from xinyong.ttl import TtlCache

__all__ = ["SchemeRegistry", "SubjectStanding", "peer_scores_of", "standing_of", "subject_kind"]


@dataclass(frozen=True, slots=True)
class SubjectStanding:
    """A subject's explained standing under one scheme version (None: not scored by it)."""

    loaded: LoadedScheme
    explanation: Explanation | None


class SchemeRegistry:
    """Active scheme versions, parsed once per version and kept.

    Which versions are active is read from the ledger on every call, or, with ``cache_seconds``
    (the service), at most that often and at once after :meth:`invalidate`.
    """

    def __init__(self, cache_seconds: float = 0.0) -> None:
        self._parsed: dict[tuple[str, str], LoadedScheme] = {}
        self._active: TtlCache[str, tuple[tuple[str, str], ...]] = TtlCache(cache_seconds)

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
            return tuple((str(r.scheme_id), str(r.version)) for r in rows)

        return [self.get(conn, *key) for key in self._active.get("active", load)]

    def for_measure(self, conn: Connection, measure: str) -> LoadedScheme | None:
        """The active scheme that defines ``measure`` (ids are unique across active schemes)."""
        for loaded in self.active(conn):
            if any(m.id == measure for m in loaded.scheme.measures):
                return loaded
        return None


def subject_kind(conn: Connection, subject_id: str, known_at: int | None) -> str | None:
    """The registered kind of a subject as known at a log size, or None if unregistered."""
    return subject_kind_at(conn, subject_id, known_at)


_PEER_CACHE: OrderedDict[tuple[object, ...], PeerScores] = OrderedDict()
_PEER_CACHE_SIZE = 8


def peer_scores_of(
    conn: Connection,
    loaded: LoadedScheme,
    as_of: date,
    known_at: int,
    catalog: Catalog | None,
) -> PeerScores:
    """The peer scores of every subject under ``loaded`` as of a date, as known at a log size."""
    section = loaded.scheme.peer
    if section is None:
        raise ValueError(f"scheme {loaded.scheme.id} has no [peer] section")
    checkpoint = read_checkpoint(conn, known_at)
    key = (
        loaded.version,
        as_of,
        known_at,
        None if checkpoint is None else checkpoint.root,
        None if catalog is None else (catalog.source, catalog.version),
    )
    cached = _PEER_CACHE.get(key) if checkpoint is not None else None
    if cached is not None:
        _PEER_CACHE.move_to_end(key)
        return cached
    table = peer_table(conn, as_of, known_at, catalog)
    graph = graph_from_table(section, table, loaded.scheme.subject_kinds, as_of)
    scores = compute_peer_scores(section, graph)
    if checkpoint is not None:
        _PEER_CACHE[key] = scores
        while len(_PEER_CACHE) > _PEER_CACHE_SIZE:
            _PEER_CACHE.popitem(last=False)
    return scores


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
    found = subject_records(conn, subject_id, as_of, known_at, catalog)
    peer: PeerScore | None = None
    if loaded.scheme.peer is not None:
        peer = peer_scores_of(conn, loaded, as_of, known_at, catalog).explain(subject_id)
    return SubjectStanding(loaded, explain_subject(loaded.scheme, subject_id, found, as_of, peer))
