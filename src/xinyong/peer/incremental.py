"""Updating peer scores after one new rating, without recomputing the whole graph.

A full run (:func:`xinyong.peer.algorithms.compute_peer_scores`) multiplies the whole rating
matrix tens of times; one new rating changes little. :class:`IncrementalPeer` starts from a full
run and, for each new rating ``i → j``:

1. re-decides the safeguards it can affect, and only those: the new rating's own flags, the
   retaliation flags of the ratings between ``i`` and ``j`` (they depend on that pair only) and,
   when the rating completes a mutual 5-star pair, the collusion flags of the mutual pairs of
   ``i`` and ``j`` (shared partners change for no other pair);
2. adds each changed rating weight to the running sums of its rated subject, whose score then
   follows from the smoothed mean at once (``bayesian`` stops here);
3. propagates the change of rater weights locally, node by node, while a change is at least
   ``tolerance``: under ``nosedive`` a new score becomes a new rater weight for everyone that
   subject rated (a push, Gauss-Seidel style, towards the fixed point); under ``eigentrust`` the
   changed row of the local trust matrix leaves a *residual* ``(1 - a) t_i Δc_i`` that is pushed
   along out-going trust (the forward-push method of incremental PageRank), each push also
   moving the sums of the subjects the pushed node rated.

Work is proportional to the part of the graph the change reaches at ``tolerance``, not to the
graph. Results agree with a full recomputation to within a small multiple of ``tolerance`` (a
test checks it); :meth:`IncrementalPeer.explain` answers for one subject from the updated state
as a full run's explanation would, and checks use it through
:mod:`xinyong.decisions.peer_cache`. A rating that brings a subject new to the graph changes
``n`` (and, without seeds, the pre-trust of everyone): :meth:`IncrementalPeer.add_rating`
refuses it, and the caller recomputes in full. Without seeds a dangling row's pre-trust is
everyone, so pushes through it cost O(n): incremental eigentrust is meant for seeded schemes.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from xinyong.peer.algorithms import (
    PeerScores,
    compute_peer_scores,
    local_trust,
    rating_effect,
    received,
)
from xinyong.peer.graph import RatingGraph
from xinyong.peer.result import PeerScore
from xinyong.peer.safeguards import (
    COLLUSION,
    NEWCOMER,
    RETALIATION,
    flag_factor,
    mutual_support,
)

__all__ = ["IncrementalPeer", "NewRating"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class NewRating:
    """A rating to add: subject numbers, stars, day number, decay factor and record key."""

    rater: int
    rated: int
    stars: float
    day: int
    decay: float = 1.0
    key: str = ""


class IncrementalPeer:
    """Peer scores kept current as ratings arrive (between subjects already in the graph).

    ``tolerance`` is the smallest change of a rater weight that is propagated further (the
    section's ``tolerance`` by default); a larger one trades accuracy for speed, and the error
    it leaves in scores is what ``bench/peer.py`` measures against a full recomputation.
    """

    def __init__(self, scores: PeerScores, tolerance: float | None = None) -> None:
        self.section = scores.section
        self.graph = graph = scores.graph
        self.n = len(graph.nodes)
        self.guard = scores.section.safeguards
        self.tolerance = self.section.tolerance if tolerance is None else tolerance
        self.m = graph.size
        base = graph.decay * scores.discounts.factor
        # Edge attributes in arrays with room to grow: a new rating is written in place.
        self.rater = _grown(graph.rater)
        self.rated = _grown(graph.rated)
        self.stars = _grown(graph.stars)
        self.day = _grown(graph.day)
        self.decay = _grown(graph.decay)
        self.flags = _grown(scores.discounts.flags.astype(np.int64))
        self.base = _grown(base)
        self.first_day = graph.first_day
        self.out_ptr, self.out_edges = _adjacency(graph.rater, self.n)
        self.extra_out: dict[int, list[int]] = defaultdict(list)
        self.weight = scores.rater_weight.copy()
        self.num, self.den = received(graph, base, self.weight)
        self.score = scores.score.copy()
        self.mutual: dict[int, set[int]] = {}
        self.mutual_ptr = self.mutual_idx = np.zeros(0, dtype=np.int64)
        if self.guard.collusion_size is not None:
            table = mutual_support(graph)
            self.mutual_ptr, self.mutual_idx = table.indptr, table.indices
        self.pushes = 0
        """Nodes the last update propagated through (a measure of its work)."""
        self.iterations, self.converged = scores.iterations, scores.converged
        self.added_keys: list[str] = []
        self.extra_in: dict[int, list[int]] = defaultdict(list)
        self._received: tuple[Ints, Ints] | None = None
        self.rows: dict[int, tuple[Ints, Floats]] = {}
        self.pretrust = _pretrust(graph)
        self.trust = sp.csr_matrix((self.n, self.n))
        self.dangling = np.ones(self.n, dtype=np.bool_)
        if self.section.algorithm == "eigentrust":
            self.trust, self.dangling = local_trust(graph, base)

    # ------------------------------------------------------------------ reading the graph

    def _out(self, node: int) -> Ints:
        edges = self.out_edges[self.out_ptr[node] : self.out_ptr[node + 1]]
        extra = self.extra_out.get(node)
        return edges if not extra else np.concatenate([edges, np.asarray(extra, dtype=np.int64)])

    def _between(self, a: int, b: int) -> list[int]:
        edges = self._out(a)
        found: list[int] = edges[self.rated[edges] == b].tolist()
        return found

    def _partners(self, node: int) -> set[int]:
        if node not in self.mutual:
            start, end = self.mutual_ptr[node], self.mutual_ptr[node + 1]
            self.mutual[node] = set(self.mutual_idx[start:end].tolist())
        return self.mutual[node]

    # ------------------------------------------------------------------ safeguards

    def _retaliation(self, e: int) -> bool:
        window = self.guard.retaliation_days
        low = self.guard.retaliation_stars
        if window is None or self.stars[e] > low:
            return False
        day = int(self.day[e])
        return any(
            self.stars[o] <= low
            and (int(self.day[o]), o) < (day, e)
            and day - int(self.day[o]) < window
            for o in self._between(int(self.rated[e]), int(self.rater[e]))
        )

    def _collusion(self, e: int) -> bool:
        size = self.guard.collusion_size
        if size is None or self.stars[e] != 5:
            return False
        a, b = int(self.rater[e]), int(self.rated[e])
        mine = self._partners(a)
        return b in mine and len(mine & self._partners(b)) >= size - 2

    def _reflag(self, edges: set[int]) -> list[tuple[int, float]]:
        """Recompute the flags of ``edges``; return ``(edge, change of base weight)``."""
        changed = []
        for e in sorted(edges):
            flag = int(self.flags[e]) & NEWCOMER
            if self._retaliation(e):
                flag |= RETALIATION
            if self._collusion(e):
                flag |= COLLUSION
            self.flags[e] = flag
            new = float(self.decay[e]) * flag_factor(flag, self.guard)
            if new != self.base[e]:
                changed.append((e, new - float(self.base[e])))
                self.base[e] = new
        return changed

    # ------------------------------------------------------------------ updating

    def add_rating(self, rating: NewRating) -> None:
        """Add one rating and bring the scores up to date.

        Both subjects must already be in the graph: a new subject changes ``n`` and needs a
        full recomputation (:func:`~xinyong.peer.algorithms.compute_peer_scores`).
        """
        if not (0 <= rating.rater < self.n and 0 <= rating.rated < self.n):
            raise ValueError("a rating with a subject new to the graph needs a full recomputation")
        if self.m == self.rater.size:
            for name in ("rater", "rated", "stars", "day", "decay", "flags", "base"):
                setattr(self, name, _grown(getattr(self, name)[: self.m]))
        e = self.m
        self.m += 1
        self.rater[e], self.rated[e], self.stars[e] = rating.rater, rating.rated, rating.stars
        self.day[e], self.decay[e], self.base[e] = rating.day, rating.decay, 0.0
        self.extra_out[rating.rater].append(e)
        self.extra_in[rating.rated].append(e)
        self.added_keys.append(rating.key)
        period = self.guard.newcomer_days
        young = period is not None and rating.day - int(self.first_day[rating.rater]) < period
        self.flags[e] = NEWCOMER if young else 0
        affected = {e, *self._between(rating.rater, rating.rated)}
        affected.update(self._between(rating.rated, rating.rater))
        if self.guard.collusion_size is not None and rating.stars == 5:
            a, b = rating.rater, rating.rated
            back = self._between(b, a)
            if any(self.stars[o] == 5 for o in back) and b not in self._partners(a):
                self._partners(a).add(b)
                self._partners(b).add(a)
                for x in (a, b):
                    for partner in self._partners(x):
                        affected.update(self._between(x, partner))
                        affected.update(self._between(partner, x))
        # The new rating starts at weight 0: its weight is a change like any other.
        changed = self._reflag(affected)
        self.pushes = 0
        if changed:
            edges = np.asarray([edge for edge, _ in changed], dtype=np.int64)
            deltas = np.asarray([delta for _, delta in changed])
            self._move_sums(edges, deltas * self.weight[self.rater[edges]])
        if self.section.algorithm == "eigentrust":
            self._update_trust(changed)
        elif self.section.algorithm == "nosedive":
            self._settle_nosedive({int(self.rated[edge]) for edge, _ in changed})

    def _move_sums(self, edges: Ints, delta_weight: Floats) -> Ints:
        """Add ``delta_weight`` (changes of w_e · W_rater) to the rated subjects' sums."""
        rated = self.rated[edges]
        np.add.at(self.num, rated, delta_weight * self.stars[edges])
        np.add.at(self.den, rated, delta_weight)
        m, prior = self.section.min_ratings, self.section.prior
        total = m + self.den[rated]
        safe = np.where(total > 0, total, 1.0)
        self.score[rated] = np.where(total > 0, (m * prior + self.num[rated]) / safe, prior)
        return rated

    def _settle_nosedive(self, start: set[int]) -> None:
        tolerance = self.tolerance
        queue = deque(v for v in start if abs(self.score[v] - self.weight[v]) >= tolerance)
        queued = set(queue)
        while queue:
            x = queue.popleft()
            queued.discard(x)
            self.pushes += 1
            delta = self.score[x] - self.weight[x]
            self.weight[x] = self.score[x]
            edges = self._out(x)
            if not edges.size:
                continue
            rated = self._move_sums(edges, self.base[edges] * delta)
            moved = rated[np.abs(self.score[rated] - self.weight[rated]) >= tolerance]
            for y in np.unique(moved).tolist():
                if y not in queued:
                    queue.append(y)
                    queued.add(y)

    def _trust_row(self, node: int) -> tuple[Ints, Floats]:
        """Row ``node`` of the normalized local trust (the pre-trust for a dangling row)."""
        if node in self.rows:
            return self.rows[node]
        if self.dangling[node]:
            return self.pretrust
        start, end = self.trust.indptr[node], self.trust.indptr[node + 1]
        return self.trust.indices[start:end], self.trust.data[start:end]

    def _recompute_row(self, node: int) -> tuple[Ints, Floats]:
        edges = self._out(node)
        targets, where = np.unique(self.rated[edges], return_inverse=True)
        sums = np.bincount(
            where,
            weights=self.base[edges] * (self.stars[edges] - 3.0) / 2.0,
            minlength=targets.size,
        )
        keep = sums > 0
        total = float(sums[keep].sum())
        self.dangling[node] = total <= 0
        row = (targets[keep], sums[keep] / total) if total > 0 else self.pretrust
        self.rows[node] = row
        return row

    def _update_trust(self, changed: list[tuple[int, float]]) -> None:
        a, n, tolerance = self.section.damping, self.n, self.tolerance
        residual: dict[int, float] = defaultdict(float)
        for node in sorted({int(self.rater[edge]) for edge, _ in changed}):
            share = (1.0 - a) * self.weight[node] / n
            for (idx, val), sign in (
                (self._trust_row(node), -1.0),
                (self._recompute_row(node), 1.0),
            ):
                for j, c in zip(idx.tolist(), val.tolist(), strict=True):
                    residual[j] += sign * share * c
        queue = deque(j for j, r in residual.items() if abs(r) * n >= tolerance)
        queued = set(queue)
        while queue:
            x = queue.popleft()
            queued.discard(x)
            r = residual.pop(x, 0.0)
            if abs(r) * n < tolerance:
                continue
            self.pushes += 1
            self.weight[x] += n * r
            edges = self._out(x)
            if edges.size:
                self._move_sums(edges, self.base[edges] * (n * r))
            idx, val = self._trust_row(x)
            for j, c in zip(idx.tolist(), val.tolist(), strict=True):
                residual[j] += (1.0 - a) * c * r
                if j not in queued and abs(residual[j]) * n >= tolerance:
                    queue.append(j)
                    queued.add(j)

    def explain(self, subject_id: str) -> PeerScore:
        """One subject's score with every rating it received, as
        :meth:`~xinyong.peer.algorithms.PeerScores.explain` gives it after a full run (the
        iterations are the full run's the updates started from)."""
        section = self.section
        node = self.graph.index_of(subject_id)
        if node is None:
            return PeerScore.unrated(
                subject_id, section.algorithm, section.prior, section.min_ratings
            )
        if self._received is None:
            self._received = _adjacency(self.graph.rated, self.n)
        pointers, edges = self._received
        found = [*edges[pointers[node] : pointers[node + 1]].tolist(), *self.extra_in[node]]
        effects = [
            rating_effect(
                section,
                record=self._key(e),
                rater=self.graph.nodes[int(self.rater[e])],
                stars=float(self.stars[e]),
                day=int(self.day[e]),
                as_of_day=self.graph.as_of_day,
                decay=float(self.decay[e]),
                flags=int(self.flags[e]),
                rater_weight=float(self.weight[self.rater[e]]),
            )
            for e in found
        ]
        return PeerScore(
            subject_id=subject_id,
            algorithm=section.algorithm,
            score=float(self.score[node]),
            prior=section.prior,
            min_ratings=section.min_ratings,
            ratings=tuple(effects),
            iterations=self.iterations,
            converged=self.converged,
        )

    def _key(self, e: int) -> str:
        """The record key of rating ``e`` (its number when the graph has none)."""
        base = self.graph.size
        if e < base:
            return self.graph.keys[e] if self.graph.keys else str(e)
        return self.added_keys[e - base] or str(e)

    def recompute(self) -> PeerScores:
        """The same ratings, scored in full (the baseline an update is compared with)."""
        m = self.m
        graph = replace(
            self.graph,
            rater=self.rater[:m].copy(),
            rated=self.rated[:m].copy(),
            stars=self.stars[:m].copy(),
            day=self.day[:m].copy(),
            decay=self.decay[:m].copy(),
            keys=[self._key(e) for e in range(m)]
            if self.graph.keys or any(self.added_keys)
            else (),
            _index={},
        )
        return compute_peer_scores(self.section, graph)


def _adjacency(
    sources: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(pointers, edge ids)`` listing each node's edges, CSR style."""
    order = np.argsort(sources, kind="stable")
    counts = np.bincount(sources, minlength=n)
    pointers = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=pointers[1:])
    return pointers, order.astype(np.int64)


def _grown(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A copy of ``values`` with room for more entries after them."""
    room = max(4096, values.size // 64)
    grown = np.zeros(values.size + room, dtype=values.dtype)
    grown[: values.size] = values
    return grown


def _pretrust(graph: RatingGraph) -> tuple[Ints, Floats]:
    n = len(graph.nodes)
    seeds = graph.seeds if graph.seeds.size else np.arange(n, dtype=np.int64)
    return seeds, np.full(seeds.size, 1.0 / max(seeds.size, 1))
