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
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from xinyong.peer.graph import RatingGraph
from xinyong.schemes.model import Safeguards

if TYPE_CHECKING:
    import scipy.sparse as sp

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

_Ints = npt.NDArray[np.int64]

RETALIATION = 1
COLLUSION = 2
NEWCOMER = 4


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
    # The share kept for each of the eight flag sets (flag_factor's product), looked up per
    # rating.
    shares = np.array([flag_factor(f, safeguards) for f in range(8)], dtype=np.float64)
    factor = shares[flags]
    return Discounts(flags, factor)


_MOST_NODES = 2**31 - 1
"""Above this many subjects ``pair * 2 + direction`` no longer fits in 64 bits."""


def _unordered_pairs(n: int, rater: _Ints, rated: _Ints) -> _Ints:
    """Each rating's unordered pair of subjects as ``low * n + high``."""
    if n > _MOST_NODES:
        raise ValueError(f"{n:,} subjects in one rating graph: at most {_MOST_NODES:,}")
    return np.minimum(rater, rated) * np.int64(n) + np.maximum(rater, rated)


def _retaliation(graph: RatingGraph, stars: int, window: int) -> npt.NDArray[np.uint8]:
    """1 for a low rating that comes after a low rating in reverse, less than ``window`` days
    after it ("after": a later day, or the same day and a later index in the graph).

    The low ratings are sorted by their unordered pair, then in time (day, then index); a
    rating's latest earlier reverse rating is then the last rating of the other direction
    before it in its pair's run, found with a running maximum of positions per direction. Only
    that latest one needs testing: an older one is at least as far back in time."""
    result = np.zeros(graph.size, dtype=np.uint8)
    low = np.flatnonzero(graph.stars <= stars)
    if low.size == 0 or window <= 0:
        return result
    rater, rated, day = graph.rater[low], graph.rated[low], graph.day[low]
    pair = _unordered_pairs(len(graph.nodes), rater, rated)
    order = np.lexsort((day, pair))  # stable: ties keep index order
    pair, day, upward = pair[order], day[order], (rater < rated)[order]
    position = np.arange(low.size, dtype=np.int64)
    last_up = np.maximum.accumulate(np.where(upward, position, -1))
    last_down = np.maximum.accumulate(np.where(upward, -1, position))
    # The last rating of the other direction at or before each position is before it. A
    # self-rating's reverse is itself: the last rating of its own (downward) direction before.
    before = np.where(upward, last_down, last_up)
    own = rater[order] == rated[order]
    before[own] = np.concatenate(([-1], last_down[:-1]))[own]
    candidate = np.maximum(before, 0)
    hit = (before >= 0) & (pair[candidate] == pair) & (day - day[candidate] < window)
    result[low[order[hit]]] = 1
    return result


def _five_star_pairs(graph: RatingGraph) -> tuple[_Ints, _Ints, _Ints]:
    """The 5-star ratings (their indices), the unordered pair of each as ``low * n + high``, and
    the sorted pairs rated 5 stars in both directions (a self-rating's pair is its own
    reverse)."""
    five = np.flatnonzero(graph.stars == 5)
    rater, rated = graph.rater[five], graph.rated[five]
    n = len(graph.nodes)
    pairs = _unordered_pairs(n, rater, rated)
    if five.size == 0:
        return five, pairs, pairs
    # Sorted, then deduplicated (np.unique's hash table is many times slower at this size).
    directed = np.sort(pairs * 2 + (rater < rated))
    pair = directed[np.concatenate(([True], directed[1:] != directed[:-1]))] >> 1
    both = pair[1:] == pair[:-1]
    own = pair // n == pair % n
    mutual = pair[np.concatenate((both, [False])) | own]  # sorted, each pair once
    return five, pairs, mutual


def mutual_support(graph: RatingGraph) -> sp.csr_matrix:
    """For every mutual 5-star pair, 1 + the number of mutual 5-star partners both share.

    ``M`` is the symmetric 0/1 matrix of mutual pairs; ``(M @ M) ∘ M`` counts the shared
    partners of each pair, and adding ``M`` keeps pairs sharing none as explicit entries of 1,
    so that 0 means "not a mutual pair". ``M`` is built from the mutual pairs only (found by
    sorting the 5-star ratings' pairs), not from a matrix of every 5-star rating."""
    return _support(len(graph.nodes), _five_star_pairs(graph)[2])


def _support(n: int, mutual_pairs: _Ints) -> sp.csr_matrix:
    # Imported here: the flag constants and descriptions above are read by modules (the
    # reference evaluator's) that have no use for SciPy's import time.
    import scipy.sparse as sp

    low, high = np.divmod(mutual_pairs, max(n, 1))
    mutual = sp.csr_matrix(
        (np.ones(2 * low.size), (np.concatenate([low, high]), np.concatenate([high, low]))),
        shape=(n, n),
    )
    mutual.data[:] = 1.0  # a self-pair was entered twice
    support = (mutual @ mutual).multiply(mutual).tocsr()
    result: sp.csr_matrix = (support + mutual).tocsr()
    return result


def _collusion(graph: RatingGraph, size: int) -> npt.NDArray[np.uint8]:
    """1 for a 5-star rating of a mutual pair sharing at least ``size - 2`` mutual partners."""
    result = np.zeros(graph.size, dtype=np.uint8)
    five, pairs, mutual_pairs = _five_star_pairs(graph)
    if mutual_pairs.size == 0:
        return result
    n = len(graph.nodes)
    table = _support(n, mutual_pairs).tocoo()
    # Entries are shared partners + 1 on mutual pairs (both orders), 0 elsewhere.
    kept = (table.row <= table.col) & (table.data - 1 >= size - 2)
    colluding = np.sort(table.row[kept].astype(np.int64) * n + table.col[kept])
    if colluding.size == 0:
        return result
    # Only ratings between two members of some colluding pair can be one (few: tested first).
    member = np.zeros(n, dtype=np.bool_)
    low, high = np.divmod(colluding, n)
    member[low] = member[high] = True
    candidates = np.flatnonzero(member[graph.rater[five]] & member[graph.rated[five]])
    at = np.minimum(np.searchsorted(colluding, pairs[candidates]), colluding.size - 1)
    result[five[candidates[colluding[at] == pairs[candidates]]]] = 1
    return result
