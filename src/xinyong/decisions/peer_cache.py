"""Peer scores kept between questions, and brought up to date as ratings arrive.

A check under a scheme with a ``[peer]`` table needs the subject's peer score, which depends on
the whole rating graph. A full run is kept per scheme version, as-of date and ledger checkpoint
(the Merkle root at ``known_at`` names the exact ledger content), for the next questions.

During a day the ledger grows by ratings between checks. When a question comes for the same
version and date at a later checkpoint, and the entries added since a kept run are records and
events that leave every earlier peer record as it was, the run is brought forward with
:class:`~xinyong.peer.incremental.IncrementalPeer` instead of being recomputed: the new ratings
are added one at a time, each touching only the part of the graph it reaches. The updater
refuses, and the graph is recomputed in full, when:

- an event in the new entries references an interaction or rating record (a revocation,
  repair or correction changes ratings already counted);
- a new rating names a subject the graph does not hold (``n`` changes);
- under new-account damping, a new interaction moves the first interaction of a subject already
  in the graph, or a new rating's rater has no interaction (their ratings' flags would change).

Updated scores agree with a full run to within a small multiple of the section's ``tolerance``
(a test checks that both give the same answers); a replay recomputes in full.

Answers are taken under a lock: a run is never moved forward while another thread reads it, and
a question about an earlier checkpoint than the kept run's is answered by a full run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import orjson
from sqlalchemy import Connection, and_, exists, select

from xinyong.domain.catalog import Catalog
from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.records import InputRecord
from xinyong.ledger.append import read_checkpoint
from xinyong.ledger.driver_sql import as_date
from xinyong.ledger.effective import effective_records
from xinyong.ledger.schema import events, records
from xinyong.peer.algorithms import PeerScores, compute_peer_scores
from xinyong.peer.graph import RatingGraph, day_number
from xinyong.peer.incremental import IncrementalPeer, NewRating
from xinyong.peer.ratings import RatingSet, considered_ratings
from xinyong.peer.result import PeerScore
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.model import PeerSection
from xinyong.scoring.ledger_source import peer_spans

__all__ = ["PeerCache"]

Key = tuple[str, date, object, int, bytes]


@dataclass(slots=True)
class _Run:
    """A full run, and the updater that has moved it forward (if any)."""

    scores: PeerScores
    first: dict[str, date]
    """Each subject's first interaction at the run's date (new-account damping)."""
    live: IncrementalPeer | None = None

    def explain(self, subject_id: str) -> PeerScore:
        source = self.live if self.live is not None else self.scores
        return source.explain(subject_id)


class PeerCache:
    """Full peer runs by (scheme version, date, catalog, checkpoint), at most ``size`` of them.

    ``full`` and ``incremental`` count how questions were answered when nothing was kept for
    them: by a full run, or by moving a kept run forward.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.full = 0
        self.incremental = 0
        self._runs: OrderedDict[Key, _Run] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every kept run."""
        with self._lock:
            self._runs.clear()

    def scores(
        self,
        conn: Connection,
        loaded: LoadedScheme,
        as_of: date,
        known_at: int,
        catalog: Catalog | None,
    ) -> PeerScores:
        """Every subject's peer scores from a full run (kept, or computed and kept)."""
        key = self._key(conn, loaded, as_of, known_at, catalog)
        if key is not None:
            with self._lock:
                run = self._runs.get(key)
                if run is not None and run.live is None:
                    self._runs.move_to_end(key)
                    return run.scores
        return self._compute(conn, loaded, as_of, known_at, catalog, key).scores

    def explain(
        self,
        conn: Connection,
        loaded: LoadedScheme,
        subject_id: str,
        as_of: date,
        known_at: int,
        catalog: Catalog | None,
    ) -> PeerScore:
        """One subject's peer score: from a kept run, a kept run moved forward, or a new run."""
        key = self._key(conn, loaded, as_of, known_at, catalog)
        if key is not None:
            with self._lock:
                run = self._runs.get(key) or self._forward(conn, loaded, key, catalog)
                if run is not None:
                    self._runs.move_to_end(key)
                    return run.explain(subject_id)
        return self._compute(conn, loaded, as_of, known_at, catalog, key).explain(subject_id)

    def _key(
        self,
        conn: Connection,
        loaded: LoadedScheme,
        as_of: date,
        known_at: int,
        catalog: Catalog | None,
    ) -> Key | None:
        """The key of a run at a checkpoint (None: no batch ended at ``known_at``)."""
        checkpoint = read_checkpoint(conn, known_at)
        if checkpoint is None:
            return None
        book = None if catalog is None else (catalog.source, catalog.version)
        return (loaded.version, as_of, book, known_at, checkpoint.root)

    def _compute(
        self,
        conn: Connection,
        loaded: LoadedScheme,
        as_of: date,
        known_at: int,
        catalog: Catalog | None,
        key: Key | None,
    ) -> _Run:
        section = _section(loaded)
        spans = peer_spans(conn, as_of, as_of, known_at, catalog)
        found = considered_ratings(
            section, [s.record for s in spans], loaded.scheme.subject_kinds, as_of
        )
        scores = compute_peer_scores(section, RatingGraph.of(section, found))
        run = _Run(scores, dict(found.first_interaction))
        with self._lock:
            self.full += 1
            if key is not None:
                self._runs[key] = run
                while len(self._runs) > self.size:
                    self._runs.popitem(last=False)
        return run

    def _forward(
        self, conn: Connection, loaded: LoadedScheme, key: Key, catalog: Catalog | None
    ) -> _Run | None:
        """The latest kept run of the same version and date before ``key``'s checkpoint, moved
        forward to it and kept under ``key``; None when there is none or it cannot be."""
        version, as_of, book, known_at, _ = key
        earlier = [k for k in self._runs if k[:3] == (version, as_of, book) and k[3] < known_at]
        if not earlier:
            return None
        last = max(earlier, key=lambda k: k[3])
        checkpoint = read_checkpoint(conn, last[3])
        if checkpoint is None or checkpoint.root != last[4]:
            return None  # another ledger, or another history
        run = self._runs[last]
        added = _added_ratings(conn, loaded, run, as_of, last[3], known_at, catalog)
        if added is None:
            return None
        found, planned = added
        if run.live is None:
            run.live = IncrementalPeer(run.scores)
        for rating in planned:
            run.live.add_rating(rating)
        for subject, day in found.first_interaction.items():
            run.first[subject] = min(day, run.first.get(subject, day))
        del self._runs[last]
        self._runs[key] = run
        self.incremental += 1
        return run


def _section(loaded: LoadedScheme) -> PeerSection:
    section = loaded.scheme.peer
    if section is None:
        raise ValueError(f"scheme {loaded.scheme.id} has no [peer] section")
    return section


def _touches_peer_records(conn: Connection, since: int, known_at: int) -> bool:
    """Whether an event at a position in ``[since, known_at)`` references a peer record."""
    r, e = records.c, events.c
    query = select(
        exists().where(
            e.position >= since,
            e.position < known_at,
            and_(r.source == e.source, r.record_id == e.record_id),
            r.code.in_(PEER_CODES),
        )
    )
    return bool(conn.execute(query).scalar())


def _new_records(
    conn: Connection, as_of: date, since: int, known_at: int, catalog: Catalog | None
) -> list[InputRecord]:
    """The peer records in force on ``as_of`` among the entries ``[since, known_at)``."""
    query = effective_records(as_of, known_at, catalog).where(
        records.c.position >= since, records.c.code.in_(PEER_CODES)
    )
    return [
        InputRecord(
            record_id=row.record_id,
            subject_id=row.subject_id,
            subject_kind=row.subject_kind,
            code=row.code,
            occurred_at=as_date(row.occurred_at),
            source=row.source,
            case_id=row.case_id,
            attrs=orjson.loads(row.attrs),
            position=row.position,
        )
        for row in conn.execute(query)
    ]


def _added_ratings(
    conn: Connection,
    loaded: LoadedScheme,
    run: _Run,
    as_of: date,
    since: int,
    known_at: int,
    catalog: Catalog | None,
) -> tuple[RatingSet, Sequence[NewRating]] | None:
    """The ratings the entries ``[since, known_at)`` add to ``run``'s graph, or None when the
    updater cannot take them (see the module's documentation)."""
    if _touches_peer_records(conn, since, known_at):
        return None
    section = _section(loaded)
    found = considered_ratings(
        section,
        _new_records(conn, as_of, since, known_at, catalog),
        loaded.scheme.subject_kinds,
        as_of,
    )
    graph = run.scores.graph
    damped = section.safeguards.newcomer_days is not None
    for subject, day in found.first_interaction.items():
        known = run.first.get(subject)
        moved = known is None or day < known
        if moved and damped and graph.index_of(subject) is not None:
            return None
    planned = []
    for rating in found.ratings:
        rater, rated = graph.index_of(rating.rater), graph.index_of(rating.rated)
        if rater is None or rated is None or (damped and rating.rater not in run.first):
            return None
        planned.append(
            NewRating(
                rater,
                rated,
                rating.stars,
                day_number(rating.occurred_at),
                rating.decay,
                rating.key,
            )
        )
    return found, planned
