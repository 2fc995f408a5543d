"""The peer algorithms on sparse matrices, for whole populations.

Every algorithm ends in the same formula (``docs/schemes.md`` section 10): subject ``j``'s score
is the smoothed mean of the stars it received,

    score_j = (m · prior + Σ_e w_e · W_rater(e) · stars_e) / (m + Σ_e w_e · W_rater(e)),

where ``w_e`` is the rating's decay times its safeguard share and ``W`` the *rater weight* each
algorithm decides:

- ``bayesian``: every rater weighs 1 (the Bayesian average);
- ``nosedive``: a rater weighs its own current score, iterated to a fixed point from
  ``W = prior`` (the show's mechanism: high scorers' ratings "go a very long way");
- ``eigentrust``: a rater weighs ``n · t``, where ``t`` is the EigenTrust vector over local trust
  ``s_ij = Σ w_e · (stars_e - 3) / 2``: ``c_ij = max(s_ij, 0) / Σ_k max(s_ik, 0)`` (rows with
  no positive trust follow the seeds), iterated as ``t ← (1 - a) Cᵀ t + a p`` from ``t = p``,
  with ``p`` uniform over the seeds (over everyone without seeds).

Iterations stop when no rater weight moves by ``tolerance`` or more, or after
``max_iterations``. With the matrices built once, an iteration is one or two sparse
matrix-vector products.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import scipy.sparse as sp

from xinyong.peer.graph import RatingGraph, graph_from_table
from xinyong.peer.result import PeerScore, RatingEffect
from xinyong.peer.safeguards import Discounts, describe, discount_ratings, flag_factor
from xinyong.schemes.model import PeerSection

__all__ = [
    "PEER_SCHEMA",
    "PeerScores",
    "compute_peer_scores",
    "eigentrust_weights",
    "local_trust",
    "peer_scores_from_table",
    "rating_effect",
    "received",
]

PEER_SCHEMA = pa.schema([("subject_id", pa.string()), ("peer_score", pa.float64())])
_EPOCH = date(1970, 1, 1)

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PeerScores:
    """Peer scores of every subject in a rating graph, with what produced them."""

    section: PeerSection
    graph: RatingGraph
    discounts: Discounts
    rater_weight: Vector
    score: Vector
    iterations: int
    converged: bool
    _by_rated: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict, repr=False)

    def score_of(self, subject_id: str) -> float:
        """A subject's peer score (the prior for a subject nobody rated)."""
        index = self.graph.index_of(subject_id)
        return self.section.prior if index is None else float(self.score[index])

    def table(self) -> pa.Table:
        """``subject_id, peer_score`` for every subject in the graph."""
        return pa.table(
            {"subject_id": list(self.graph.nodes), "peer_score": self.score}, schema=PEER_SCHEMA
        )

    def explain(self, subject_id: str) -> PeerScore:
        """One subject's score with every rating it received, as the reference gives it."""
        section = self.section
        index = self.graph.index_of(subject_id)
        if index is None:
            return PeerScore.unrated(
                subject_id, section.algorithm, section.prior, section.min_ratings
            )
        graph = self.graph
        if "order" not in self._by_rated:
            self._by_rated["order"] = np.argsort(graph.rated, kind="stable")
            self._by_rated["sorted"] = graph.rated[self._by_rated["order"]]
        order, rated = self._by_rated["order"], self._by_rated["sorted"]
        lo, hi = np.searchsorted(rated, index), np.searchsorted(rated, index, side="right")
        effects = [
            rating_effect(
                section,
                record=graph.keys[e] if graph.keys else str(e),
                rater=graph.nodes[graph.rater[e]],
                stars=float(graph.stars[e]),
                day=int(graph.day[e]),
                as_of_day=graph.as_of_day,
                decay=float(graph.decay[e]),
                flags=int(self.discounts.flags[e]),
                rater_weight=float(self.rater_weight[graph.rater[e]]),
            )
            for e in order[lo:hi]
        ]
        return PeerScore(
            subject_id=subject_id,
            algorithm=section.algorithm,
            score=float(self.score[index]),
            prior=section.prior,
            min_ratings=section.min_ratings,
            ratings=tuple(effects),
            iterations=self.iterations,
            converged=self.converged,
        )


def rating_effect(
    section: PeerSection,
    *,
    record: str,
    rater: str,
    stars: float,
    day: int,
    as_of_day: int,
    decay: float,
    flags: int,
    rater_weight: float,
) -> RatingEffect:
    """One rating as its rated subject's explanation shows it (``day`` numbers, see
    :func:`~xinyong.peer.graph.day_number`)."""
    share = flag_factor(flags, section.safeguards)
    return RatingEffect(
        record=record,
        rater=rater,
        stars=stars,
        occurred_at=_EPOCH + timedelta(days=day),
        age_days=as_of_day - day,
        decay=decay,
        safeguard=share,
        rater_weight=rater_weight,
        weight=decay * share * rater_weight,
        reasons=describe(flags, section.safeguards),
    )


def received(graph: RatingGraph, base: Vector, rater_weight: Vector) -> tuple[Vector, Vector]:
    """``(Σ_e w_e W_rater(e) stars_e, Σ_e w_e W_rater(e))`` per rated subject ``j``.

    Summed with ``bincount`` over the ratings rather than as sparse matrix products: building
    the two matrices sorts every rating, which costs more than the products of all iterations.
    """
    n = len(graph.nodes)
    weight = base * rater_weight[graph.rater]
    numerator = np.bincount(graph.rated, weights=weight * graph.stars, minlength=n)
    denominator = np.bincount(graph.rated, weights=weight, minlength=n)
    return numerator.astype(np.float64, copy=False), denominator.astype(np.float64, copy=False)


def _smoothed(section: PeerSection, numerator: Vector, denominator: Vector) -> Vector:
    m, prior = section.min_ratings, section.prior
    total = m + denominator
    safe = np.where(total > 0, total, 1.0)
    result: Vector = np.where(total > 0, (m * prior + numerator) / safe, prior)
    return result


def local_trust(graph: RatingGraph, base: Vector) -> tuple[sp.csr_matrix, npt.NDArray[np.bool_]]:
    """The row-normalized local trust ``C`` and the mask of rows with no positive trust."""
    n = len(graph.nodes)
    trust = sp.csr_matrix(
        (base * (graph.stars - 3.0) / 2.0, (graph.rater, graph.rated)), shape=(n, n)
    )
    trust.sum_duplicates()
    trust.data = np.maximum(trust.data, 0.0)
    trust.eliminate_zeros()
    row_of = np.repeat(np.arange(n), np.diff(trust.indptr))
    rows = np.bincount(row_of, weights=trust.data, minlength=n)
    dangling = rows <= 0
    scale = np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, rows))
    # Each entry scaled by its row's factor in place (what ``diags(scale) @ trust`` computes,
    # without the product's copy and sort).
    trust.data *= scale[row_of]
    return trust, dangling


def _pretrusted(graph: RatingGraph) -> Vector:
    n = len(graph.nodes)
    p = np.zeros(n, dtype=np.float64)
    if graph.seeds.size:
        p[graph.seeds] = 1.0 / graph.seeds.size
    elif n:
        p[:] = 1.0 / n
    return p


def eigentrust_weights(
    section: PeerSection, graph: RatingGraph, base: Vector, start: Vector | None = None
) -> tuple[Vector, int, bool]:
    """Rater weights ``n · t`` by power iteration; ``start`` warm-starts it (as weights)."""
    n = len(graph.nodes)
    if n == 0:
        return np.zeros(0), 0, True
    trust, dangling = local_trust(graph, base)
    flow = trust.T.tocsr()
    p = _pretrusted(graph)
    a = section.damping
    t = p.copy() if start is None else start / n
    for iteration in range(1, section.max_iterations + 1):
        following = (1.0 - a) * (flow @ t + t[dangling].sum() * p) + a * p
        change = n * float(np.max(np.abs(following - t)))
        t = following
        if change < section.tolerance:
            return n * t, iteration, True
    return n * t, section.max_iterations, False


def compute_peer_scores(section: PeerSection, graph: RatingGraph) -> PeerScores:
    """Run the section's algorithm over the graph."""
    discounts = discount_ratings(graph, section.safeguards)
    base = graph.decay * discounts.factor
    n = len(graph.nodes)

    def scores(rater_weight: Vector) -> Vector:
        return _smoothed(section, *received(graph, base, rater_weight))

    iterations, converged = 0, True
    if section.algorithm == "bayesian":
        rater_weight = np.ones(n, dtype=np.float64)
    elif section.algorithm == "nosedive":
        rater_weight = np.full(n, section.prior, dtype=np.float64)
        converged = False
        for iterations in range(1, section.max_iterations + 1):  # noqa: B007
            following = scores(rater_weight)
            change = float(np.max(np.abs(following - rater_weight))) if n else 0.0
            rater_weight = following
            if change < section.tolerance:
                converged = True
                break
    else:
        rater_weight, iterations, converged = eigentrust_weights(section, graph, base)
    return PeerScores(
        section=section,
        graph=graph,
        discounts=discounts,
        rater_weight=rater_weight,
        score=scores(rater_weight),
        iterations=iterations,
        converged=converged,
    )


def peer_scores_from_table(
    section: PeerSection, records: pa.Table, kinds: tuple[str, ...], as_of: date
) -> PeerScores:
    """Every subject's peer score over an Arrow table of records (``RECORDS_SCHEMA``)."""
    return compute_peer_scores(section, graph_from_table(section, records, kinds, as_of))
