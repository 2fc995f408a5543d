"""The peer algorithms written straight out, one subject at a time, in plain Python.

The executable form of ``docs/schemes.md`` section 10, kept deliberately simple: dictionaries,
loops and the formulas as the documentation states them, with no matrices. It is what tests
hold the vectorized algorithms (:mod:`xinyong.peer.algorithms`) to, and what the reference
scheme evaluator (``--engine python``) uses. Quadratic in places; meant for small populations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from xinyong.domain.records import InputRecord
from xinyong.peer.ratings import Rating, RatingSet, considered_ratings
from xinyong.peer.result import PeerScore, RatingEffect, smoothed_mean
from xinyong.peer.safeguards import (
    COLLUSION,
    NEWCOMER,
    RETALIATION,
    describe,
    flag_factor,
)
from xinyong.schemes.model import PeerSection, Safeguards

__all__ = ["reference_peer_scores", "safeguard_flags"]


def _is_retaliation(index: int, ratings: tuple[Rating, ...], guard: Safeguards) -> bool:
    """Whether ``ratings[index]`` replies to an earlier low rating from the rated subject."""
    rating = ratings[index]
    window = guard.retaliation_days
    if window is None or rating.stars > guard.retaliation_stars:
        return False
    for position, other in enumerate(ratings):
        earlier = other.occurred_at < rating.occurred_at or (
            other.occurred_at == rating.occurred_at and position < index
        )
        if (
            other.rater == rating.rated
            and other.rated == rating.rater
            and other.stars <= guard.retaliation_stars
            and earlier
            and (rating.occurred_at - other.occurred_at).days < window
        ):
            return True
    return False


def _mutual_partners(ratings: tuple[Rating, ...]) -> dict[str, set[str]]:
    fives = {(r.rater, r.rated) for r in ratings if r.stars == 5}
    partners: dict[str, set[str]] = defaultdict(set)
    for rater, rated in fives:
        if (rated, rater) in fives:
            partners[rater].add(rated)
    return partners


def safeguard_flags(ratings: RatingSet, guard: Safeguards) -> list[int]:
    """Each rating's safeguard flags, in order."""
    partners = _mutual_partners(ratings.ratings)
    flags = []
    for index, rating in enumerate(ratings.ratings):
        flag = 0
        if _is_retaliation(index, ratings.ratings, guard):
            flag |= RETALIATION
        size = guard.collusion_size
        if (
            size is not None
            and rating.stars == 5
            and rating.rated in partners[rating.rater]
            and len(partners[rating.rater] & partners[rating.rated]) >= size - 2
        ):
            flag |= COLLUSION
        period = guard.newcomer_days
        if period is not None:
            first = ratings.first_interaction.get(rating.rater)
            if first is None or (rating.occurred_at - first).days < period:
                flag |= NEWCOMER
        flags.append(flag)
    return flags


def _scores(
    section: PeerSection,
    nodes: list[str],
    received: dict[str, list[tuple[Rating, float]]],
    rater_weight: dict[str, float],
) -> dict[str, float]:
    """Every subject's smoothed mean under the given rater weights."""
    result = {}
    for node in nodes:
        weight = 0.0
        weighted_stars = 0.0
        for rating, base in received.get(node, ()):
            w = base * rater_weight[rating.rater]
            weight += w
            weighted_stars += w * rating.stars
        result[node] = smoothed_mean(section.prior, section.min_ratings, weight, weighted_stars)
    return result


def _eigentrust(
    section: PeerSection, nodes: list[str], ratings: list[tuple[Rating, float]]
) -> tuple[dict[str, float], int, bool]:
    n = len(nodes)
    if n == 0:
        return {}, 0, True
    local: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for rating, base in ratings:
        local[rating.rater][rating.rated] += base * (rating.stars - 3.0) / 2.0
    seeds = list(section.seeds) or nodes
    pretrust = {node: (1.0 / len(seeds) if node in seeds else 0.0) for node in nodes}
    trust: dict[str, dict[str, float]] = {}
    for node in nodes:
        positive = {j: s for j, s in local[node].items() if s > 0}
        total = sum(positive.values())
        trust[node] = {j: s / total for j, s in positive.items()} if total > 0 else dict(pretrust)
    t = dict(pretrust)
    a = section.damping
    for iteration in range(1, section.max_iterations + 1):
        following = {node: a * pretrust[node] for node in nodes}
        for i in nodes:
            for j, c in trust[i].items():
                following[j] += (1.0 - a) * c * t[i]
        change = max(n * abs(following[node] - t[node]) for node in nodes)
        t = following
        if change < section.tolerance:
            return {node: n * t[node] for node in nodes}, iteration, True
    return {node: n * t[node] for node in nodes}, section.max_iterations, False


def reference_peer_scores(
    section: PeerSection,
    records: Iterable[InputRecord],
    kinds: tuple[str, ...],
    as_of: date,
) -> dict[str, PeerScore]:
    """The peer score of every subject that rated, was rated or is a seed."""
    found = considered_ratings(section, records, kinds, as_of)
    found.check_seeds(section.seeds, section.prior)
    guard = section.safeguards
    flags = safeguard_flags(found, guard)
    based = [
        (rating, rating.decay * flag_factor(flag, guard))
        for rating, flag in zip(found.ratings, flags, strict=True)
    ]
    nodes = sorted(
        {r.rater for r in found.ratings} | {r.rated for r in found.ratings} | set(section.seeds)
    )
    received: dict[str, list[tuple[Rating, float]]] = defaultdict(list)
    for rating, base in based:
        received[rating.rated].append((rating, base))
    iterations, converged = 0, True
    if section.algorithm == "bayesian":
        weights = dict.fromkeys(nodes, 1.0)
    elif section.algorithm == "nosedive":
        weights = dict.fromkeys(nodes, section.prior)
        converged = False
        for iterations in range(1, section.max_iterations + 1):  # noqa: B007
            following = _scores(section, nodes, received, weights)
            change = max((abs(following[v] - weights[v]) for v in nodes), default=0.0)
            weights = following
            if change < section.tolerance:
                converged = True
                break
    else:
        weights, iterations, converged = _eigentrust(section, nodes, based)
    scores = _scores(section, nodes, received, weights)
    result = {}
    for node in nodes:
        effects = []
        for (rating, base), flag in zip(based, flags, strict=True):
            if rating.rated != node:
                continue
            share = flag_factor(flag, guard)
            effects.append(
                RatingEffect(
                    record=rating.key,
                    rater=rating.rater,
                    stars=rating.stars,
                    occurred_at=rating.occurred_at,
                    age_days=rating.age_days,
                    decay=rating.decay,
                    safeguard=share,
                    rater_weight=weights[rating.rater],
                    weight=base * weights[rating.rater],
                    reasons=describe(flag, guard),
                )
            )
        result[node] = PeerScore(
            subject_id=node,
            algorithm=section.algorithm,
            score=scores[node],
            prior=section.prior,
            min_ratings=section.min_ratings,
            ratings=tuple(effects),
            iterations=iterations,
            converged=converged,
        )
    return result
