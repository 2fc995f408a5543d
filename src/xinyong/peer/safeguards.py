"""Safeguards: discounts for retaliation, collusion and new accounts, before any algorithm runs.

Each safeguard flags ratings and multiplies their weight by the share the scheme keeps
(``docs/schemes.md`` section 10):

- *retaliation*: a low rating (at most ``retaliation_stars``) that *replies* to a low rating
  the rater received from the rated person: it comes after that rating (a later day, or the same
  day and later in the input, which is ledger order) and less than ``retaliation_window`` after
  it. Only the reply is discounted: the first low rating of a pair keeps its weight, so rating
  someone low first, or rating back at once, cancels nothing;
- *collusion*: a 5-star rating between two subjects who rated each other 5 stars (a *mutual*
  pair) and share at least ``collusion_size - 2`` mutual 5-star partners. Every pair inside a
  clique of ``collusion_size`` qualifies, and so does any pair as densely tied;
- *newcomer*: a rating given less than ``newcomer_period`` after the rater's first interaction
  (or by a rater with none): fresh accounts, the raw material of sybil attacks, pay dues.

This module is the vectorized form (NumPy and SciPy sparse matrices) used on whole populations;
:mod:`xinyong.peer.reference` computes the same flags with plain loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from xinyong.peer.graph import RatingGraph
from xinyong.schemes.model import Safeguards

__all__ = [
    "COLLUSION",
    "NEWCOMER",
    "RETALIATION",
    "Discounts",
    "describe",
    "discount_ratings",
    "flag_factor",
    "mutual_support",
]

RETALIATION = 1
COLLUSION = 2
NEWCOMER = 4
_ORDER = (RETALIATION, COLLUSION, NEWCOMER)


def describe(flags: int, safeguards: Safeguards) -> tuple[str, ...]:
    """Why a rating with these flags was discounted, in words the rated subject can check."""
    reasons = []
    if flags & RETALIATION:
        reasons.append(
            f"retaliation: a reply, less than {safeguards.retaliation_days} days after the rated "
            f"person rated the rater {safeguards.retaliation_stars} stars or less, "
            f"weight x{safeguards.retaliation_weight:g}"
        )
    if flags & COLLUSION:
        reasons.append(
            f"collusion: mutual 5 stars in a group of {safeguards.collusion_size} or more "
            f"rating each other 5 stars, weight x{safeguards.collusion_weight:g}"
        )
    if flags & NEWCOMER:
        reasons.append(
            f"new account: the rater's first interaction was under "
            f"{safeguards.newcomer_days} days before, weight x{safeguards.newcomer_weight:g}"
        )
    return tuple(reasons)


def flag_factor(flags: int, safeguards: Safeguards) -> float:
    """The share of its weight a rating with these flags keeps."""
    factor = 1.0
    if flags & RETALIATION:
        factor *= safeguards.retaliation_weight
    if flags & COLLUSION:
        factor *= safeguards.collusion_weight
    if flags & NEWCOMER:
        factor *= safeguards.newcomer_weight
    return factor


@dataclass(frozen=True, slots=True)
class Discounts:
    """Per rating: the safeguard flags (bit set) and the share of weight kept."""

    flags: npt.NDArray[np.uint8]
    factor: npt.NDArray[np.float64]


def discount_ratings(graph: RatingGraph, safeguards: Safeguards) -> Discounts:
    """Flag every rating of ``graph`` and compute its kept share."""
    flags = np.zeros(graph.size, dtype=np.uint8)
    days = safeguards.retaliation_days
    if days is not None:
        flags |= _retaliation(graph, safeguards.retaliation_stars, days) * np.uint8(RETALIATION)
    if safeguards.collusion_size is not None:
        flags |= _collusion(graph, safeguards.collusion_size) * np.uint8(COLLUSION)
    period = safeguards.newcomer_days
    if period is not None:
        age = graph.day - graph.first_day[graph.rater]
        flags |= (age < period).astype(np.uint8) * np.uint8(NEWCOMER)
    factor = np.ones(graph.size, dtype=np.float64)
    for flag, share in zip(
        _ORDER,
        (safeguards.retaliation_weight, safeguards.collusion_weight, safeguards.newcomer_weight),
        strict=True,
    ):
        factor = np.where(flags & flag, factor * share, factor)
    return Discounts(flags, factor)


def _retaliation(graph: RatingGraph, stars: int, window: int) -> npt.NDArray[np.uint8]:
    """1 for a low rating that comes after a low rating in reverse, less than ``window`` days
    after it ("after": a later day, or the same day and a later index in the graph)."""
    result = np.zeros(graph.size, dtype=np.uint8)
    low = np.flatnonzero(graph.stars <= stars)
    if low.size == 0 or window <= 0:
        return result
    n = np.int64(len(graph.nodes))
    pair = graph.rater[low] * n + graph.rated[low]
    reverse = graph.rated[low] * n + graph.rater[low]
    pairs, pair_id = np.unique(pair, return_inverse=True)
    # Every low rating gets its rank in time (by day, then by index: ``low`` is ascending), and
    # one sorted key per (pair, rank): the latest reverse low rating ranked before a rating is
    # one binary search away.
    day = graph.day[low]
    rank = np.empty(low.size, dtype=np.int64)
    rank[np.argsort(day, kind="stable")] = np.arange(low.size, dtype=np.int64)
    span = np.int64(low.size)
    unsorted = pair_id.astype(np.int64) * span + rank
    order = np.argsort(unsorted)
    keys, key_day = unsorted[order], day[order]
    at = np.searchsorted(pairs, reverse)
    found = (at < len(pairs)) & (pairs[np.minimum(at, len(pairs) - 1)] == reverse)
    before = np.searchsorted(keys, at.astype(np.int64) * span + rank, side="left") - 1
    candidate = np.maximum(before, 0)
    same_pair = keys[candidate] // span == at
    hit = found & (before >= 0) & same_pair & (day - key_day[candidate] < window)
    result[low[hit]] = 1
    return result


def mutual_support(graph: RatingGraph) -> sp.csr_matrix:
    """For every mutual 5-star pair, 1 + the number of mutual 5-star partners both share.

    ``M`` is the symmetric 0/1 matrix of mutual pairs; ``(M @ M) ∘ M`` counts the shared
    partners of each pair, and adding ``M`` keeps pairs sharing none as explicit entries of 1,
    so that 0 means "not a mutual pair"."""
    n = len(graph.nodes)
    five = graph.stars == 5
    directed = sp.csr_matrix(
        (np.ones(int(five.sum())), (graph.rater[five], graph.rated[five])), shape=(n, n)
    )
    directed.data[:] = 1.0
    mutual = directed.multiply(directed.T).tocsr()
    mutual.data[:] = 1.0
    mutual.eliminate_zeros()
    support = (mutual @ mutual).multiply(mutual).tocsr()
    result: sp.csr_matrix = (support + mutual).tocsr()
    return result


def _collusion(graph: RatingGraph, size: int) -> npt.NDArray[np.uint8]:
    """1 for a 5-star rating of a mutual pair sharing at least ``size - 2`` mutual partners."""
    result = np.zeros(graph.size, dtype=np.uint8)
    five = np.flatnonzero(graph.stars == 5)
    if five.size == 0:
        return result
    table = mutual_support(graph)
    # Entries are shared partners + 1 on mutual pairs, 0 elsewhere.
    looked = np.asarray(table[graph.rater[five], graph.rated[five]]).ravel()
    result[five[looked - 1 >= size - 2]] = 1
    return result
