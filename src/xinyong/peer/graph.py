"""The rating graph: counting ratings as arrays, ready for sparse matrices.

Subjects are numbered by their position in ``nodes`` (sorted ids of every rater, rated subject
and seed). Days are counted from 1970-01-01, so ages and gaps are integer differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.record_table import input_records
from xinyong.peer.ratings import RatingSet, considered_ratings
from xinyong.schemes.model import PeerSection

__all__ = ["RatingGraph", "day_number", "graph_from_table"]

_EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


@dataclass(frozen=True, slots=True)
class RatingGraph:
    """Counting ratings as parallel arrays (one entry per rating) plus per-subject data."""

    nodes: Sequence[str]
    rater: npt.NDArray[np.int64]
    rated: npt.NDArray[np.int64]
    stars: npt.NDArray[np.float64]
    day: npt.NDArray[np.int64]
    decay: npt.NDArray[np.float64]
    first_day: npt.NDArray[np.int64]
    """Per subject, the day of its first interaction; for a subject with none, a day after
    every rating, so that each of its ratings is a newcomer's."""
    seeds: npt.NDArray[np.int64]
    as_of_day: int
    keys: Sequence[str] = ()
    """Record keys of the ratings (empty for synthetic graphs built from arrays)."""
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def size(self) -> int:
        """Number of ratings."""
        return int(self.rater.size)

    def index_of(self, subject_id: str) -> int | None:
        """A subject's number, or None when it is not in the graph."""
        if not self._index and self.nodes:
            self._index.update((node, i) for i, node in enumerate(self.nodes))
        return self._index.get(subject_id)

    @classmethod
    def of(cls, section: PeerSection, ratings: RatingSet) -> RatingGraph:
        """The graph of a set of counting ratings (seeds from the scheme's section;
        :class:`~xinyong.peer.ratings.SeedsAbsent` when none of them takes part)."""
        ratings.check_seeds(section.seeds, section.prior)
        items = ratings.ratings
        nodes = sorted({r.rater for r in items} | {r.rated for r in items} | set(section.seeds))
        index = {node: i for i, node in enumerate(nodes)}
        day = np.array([day_number(r.occurred_at) for r in items], dtype=np.int64)
        latest = int(day.max()) + 1 if day.size else 0
        first = np.array(
            [
                day_number(ratings.first_interaction[node])
                if node in ratings.first_interaction
                else latest
                for node in nodes
            ],
            dtype=np.int64,
        )
        return cls(
            nodes=nodes,
            rater=np.array([index[r.rater] for r in items], dtype=np.int64),
            rated=np.array([index[r.rated] for r in items], dtype=np.int64),
            stars=np.array([r.stars for r in items], dtype=np.float64),
            day=day,
            decay=np.array([r.decay for r in items], dtype=np.float64),
            first_day=first,
            seeds=np.array([index[s] for s in section.seeds], dtype=np.int64),
            as_of_day=day_number(ratings.as_of),
            keys=[r.key for r in items],
            _index=index,
        )


def graph_from_table(
    section: PeerSection, records: pa.Table, kinds: tuple[str, ...], as_of: date
) -> RatingGraph:
    """The rating graph of an Arrow table of records (``RECORDS_SCHEMA``).

    Only the rows with a peer code are converted to Python objects; the rest of the table is
    filtered out by Arrow first.
    """
    peer_rows = records.filter(pc.is_in(records.column("code"), pa.array(PEER_CODES)))
    rows = input_records(Path("<records>"), peer_rows)
    return RatingGraph.of(section, considered_ratings(section, rows, kinds, as_of))
