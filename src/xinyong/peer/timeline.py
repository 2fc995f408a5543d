"""The rating graph at many dates from one read of the ledger.

A subject's file shows the score on a dozen past dates and on every day a counting record or
rating stops counting; under a peer score each of those is a different rating graph. Reading and
converting the peer records once per date would repeat the same work a dozen times or more, so
:class:`PeerTimeline` takes them once, each with the span of dates it is in force (from its
``occurred_at`` to the day before it stops: a ``repaired`` or ``expired`` event, or the end of
its code's display period), as arrays; :meth:`PeerTimeline.graph_at` then selects the ratings of
one date with array operations. The graph is the one :meth:`RatingGraph.of` builds from
:func:`~xinyong.peer.ratings.considered_ratings` over the records in force that day (a test
holds the two together).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt

from xinyong.domain.peer_records import INTERACTION, RATING, rating_stars
from xinyong.domain.records import InputRecord, RecordSpan
from xinyong.peer.algorithms import PeerScores, compute_peer_scores
from xinyong.peer.graph import RatingGraph, day_number
from xinyong.peer.ratings import seeds_absent
from xinyong.schemes.model import PeerSection

__all__ = ["PeerTimeline"]

_NEVER = np.iinfo(np.int64).max
Ints = npt.NDArray[np.int64]


class PeerTimeline:
    """The peer records of a period, ready to give the rating graph of any date in it."""

    def __init__(
        self, section: PeerSection, kinds: tuple[str, ...], spans: Sequence[RecordSpan]
    ) -> None:
        self.section = section
        rated: list[RecordSpan] = []
        met: list[RecordSpan] = []
        for span in spans:
            record = span.record
            if record.subject_kind not in kinds:
                continue
            if record.code == INTERACTION:
                met.append(span)
            elif record.code == RATING and _rater(record) is not None:
                rated.append(span)
        names = {s.record.subject_id for s in [*rated, *met]} | set(section.seeds)
        names |= {str(_rater(s.record)) for s in rated}
        self.ids = sorted(names)
        code = {name: i for i, name in enumerate(self.ids)}
        self.seeds = np.array([code[s] for s in section.seeds], dtype=np.int64)
        self.rater = np.array([code[str(_rater(s.record))] for s in rated], dtype=np.int64)
        self.rated = np.array([code[s.record.subject_id] for s in rated], dtype=np.int64)
        self.stars = np.array(
            [rating_stars(s.record.attrs.get("stars")) for s in rated], dtype=np.float64
        )
        self.day = _days([s.record.occurred_at for s in rated])
        self.stops = _days([s.stops for s in rated])
        self.keys = [s.record.key for s in rated]
        self.who = np.array([code[s.record.subject_id] for s in met], dtype=np.int64)
        self.met_day = _days([s.record.occurred_at for s in met])
        self.met_stops = _days([s.stops for s in met])

    def graph_at(self, as_of: date) -> RatingGraph:
        """The rating graph of the ratings that count on ``as_of``."""
        today = day_number(as_of)
        valid = self.section.valid_days
        counting = (self.day <= today) & (today < self.stops)
        if valid is not None:
            counting &= today - self.day < valid
        chosen = np.flatnonzero(counting)
        raters, rated = self.rater[chosen], self.rated[chosen]
        if self.seeds.size and chosen.size and not np.isin(self.seeds, raters).any():
            seeds = [self.ids[i] for i in self.seeds.tolist()]
            raise seeds_absent(seeds, int(chosen.size), as_of, self.section.prior)
        nodes = np.unique(np.concatenate([raters, rated, self.seeds]))
        day = self.day[chosen]
        in_force = (self.met_day <= today) & (today < self.met_stops)
        first = np.full(len(self.ids), _NEVER, dtype=np.int64)
        np.minimum.at(first, self.who[in_force], self.met_day[in_force])
        first = first[nodes]
        latest = int(day.max()) + 1 if day.size else 0
        decay = np.ones(chosen.size, dtype=np.float64)
        if self.section.decay == "linear" and valid:
            decay = 1.0 - (today - day) / valid
        return RatingGraph(
            nodes=[self.ids[i] for i in nodes.tolist()],
            rater=np.searchsorted(nodes, raters).astype(np.int64),
            rated=np.searchsorted(nodes, rated).astype(np.int64),
            stars=self.stars[chosen],
            day=day,
            decay=decay,
            first_day=np.where(first == _NEVER, latest, first),
            seeds=np.searchsorted(nodes, self.seeds).astype(np.int64),
            as_of_day=today,
            keys=[self.keys[i] for i in chosen.tolist()],
        )

    def scores_at(self, as_of: date) -> PeerScores:
        """Every subject's peer score on ``as_of``."""
        return compute_peer_scores(self.section, self.graph_at(as_of))


def _rater(record: InputRecord) -> str | None:
    """The rater of a rating that can count at some date (as ``considered_ratings`` decides)."""
    rater = record.attrs.get("rater")
    stars = rating_stars(record.attrs.get("stars"))
    if not isinstance(rater, str) or not rater or rater == record.subject_id or stars is None:
        return None
    return rater


def _days(days: Sequence[date | None]) -> Ints:
    return np.array([_NEVER if d is None else day_number(d) for d in days], dtype=np.int64)
