"""Peer algorithms: hand-computed examples, and the vectorized code held to the reference.

The worked examples are computed by hand in the comments from the formulas of
``docs/schemes.md`` section 10. The property tests generate rating graphs with hypothesis and
require the sparse-matrix algorithms (:mod:`xinyong.peer.algorithms`) and the plain per-subject
reference (:mod:`xinyong.peer.reference`) to give the same scores, the same safeguard flags and
the same explanations, and the incremental updates to match a full recomputation.
"""

from __future__ import annotations

import math
import signal
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.peer_strategies import AS_OF, KINDS, PEOPLE, met, rating, section, sections
from xinyong.domain.records import InputRecord
from xinyong.peer.algorithms import compute_peer_scores
from xinyong.peer.graph import RatingGraph, day_number
from xinyong.peer.incremental import IncrementalPeer, NewRating
from xinyong.peer.ratings import SeedsAbsent, considered_ratings
from xinyong.peer.reference import reference_peer_scores, safeguard_flags
from xinyong.peer.safeguards import COLLUSION, NEWCOMER, RETALIATION, discount_ratings
from xinyong.schemes.model import PeerSection


def both(peer: PeerSection, records: list[InputRecord]) -> dict[str, float]:
    """Scores by the reference, after checking the vectorized algorithms agree."""
    reference = reference_peer_scores(peer, records, KINDS, AS_OF)
    graph = RatingGraph.of(peer, considered_ratings(peer, records, KINDS, AS_OF))
    vectorized = compute_peer_scores(peer, graph)
    for subject, score in reference.items():
        assert vectorized.score_of(subject) == pytest.approx(score.score, abs=1e-9)
    return {subject: score.score for subject, score in reference.items()}


# ---------------------------------------------------------------- worked examples


def test_bayesian_average() -> None:
    # s1: 5 and 4 stars, m = 2, prior 3: (2*3 + 5 + 4) / (2 + 2) = 3.75.
    # The 1-star rating of 2025-05-01 is 60 days old: not below valid_for 30d, ignored.
    records = [rating("r1", "s1", 5), rating("r2", "s1", 4), rating("r3", "s1", 1, "2025-05-01")]
    scores = both(section(algorithm="bayesian", prior=3, min_ratings=2, valid_for="30d"), records)
    assert scores["s1"] == 3.75
    assert scores["r1"] == 3.0  # nobody rated r1: the prior


def test_nosedive_weighs_raters_by_their_score() -> None:
    # d rates a 5 and b 2, so a = 5 and b = 2 (one rater each, m = 0).
    # c is rated 5 by a and 1 by b: (5*5 + 2*1) / (5 + 2) = 27/7; d is unrated: prior 3.
    records = [
        rating("d", "a", 5),
        rating("d", "b", 2),
        rating("a", "c", 5),
        rating("b", "c", 1),
    ]
    scores = both(section(algorithm="nosedive", prior=3), records)
    assert scores["c"] == pytest.approx(27 / 7)
    assert scores["a"] == 5
    assert scores["d"] == 3


def test_eigentrust_worked_example() -> None:
    # Seeds s1, s2, s3 (p = 1/3 each), a = 0.15. s1 rates x 5 (+1), s2 rates x 4 (+0.5): both
    # rows put all trust on x. s3 and x trust nobody: their rows are p.
    # By symmetry t_s = t for each seed: x = 0.85 * 2t, t = 0.85 (t + x) / 3 + 0.05,
    # so t = 0.05 / 0.235 = 10/47 and x = 17/47; n = 4, W = 4t: W_s1 = W_s2 = 40/47.
    # x's score: (10 * 4.3 + 40/47 * 5 + 40/47 * 4) / (10 + 80/47) = 2381/550.
    records = [rating("s1", "x", 5), rating("s2", "x", 4), met("s3")]
    peer = section(
        algorithm="eigentrust", prior=4.3, min_ratings=10, seeds=["s1", "s2", "s3"], damping=0.15
    )
    scores = both(peer, records)
    assert scores["x"] == pytest.approx(2381 / 550, abs=1e-9)
    graph = RatingGraph.of(peer, considered_ratings(peer, records, KINDS, AS_OF))
    weights = compute_peer_scores(peer, graph).rater_weight
    assert weights[graph.index_of("s1") or 0] == pytest.approx(40 / 47, abs=1e-9)
    assert weights[graph.index_of("x") or 0] == pytest.approx(68 / 47, abs=1e-9)


def test_eigentrust_gives_a_sybil_ring_no_weight() -> None:
    # The ring f1..f3 rates itself 5 stars and v 1 star; no seed trusts the ring, so every
    # member weighs 0 and v keeps the seeds' rating alone: 5.
    records = [rating("seed", "v", 5)]
    for a in ("f1", "f2", "f3"):
        records.append(rating(a, "v", 1))
        records.extend(rating(a, b, 5) for b in ("f1", "f2", "f3") if b != a)
    scores = both(section(algorithm="eigentrust", seeds=["seed"]), records)
    assert scores["v"] == pytest.approx(5.0)
    assert both(section(algorithm="bayesian"), records)["v"] == pytest.approx(2.0)


def test_retaliation_flags_only_the_reply() -> None:
    guard = {"retaliation_window": "7d"}
    records = [
        rating("a", "b", 1, "2025-06-01"),  # first: stands
        rating("b", "a", 2, "2025-06-03"),  # 2 days later: a reply, presumed retaliation
        rating("c", "d", 1, "2025-06-01"),
        rating("d", "c", 1, "2025-06-10"),  # 9 days later: outside the window
        rating("e", "f", 1, "2025-06-05"),
        rating("f", "e", 1, "2025-06-05"),  # the same day, later in the input: the reply
        rating("h", "g", 1, "2025-06-07"),  # later in the input but dated after g's: first
        rating("g", "h", 1, "2025-06-06"),
    ]
    peer = section(algorithm="bayesian", safeguards=guard)
    flags = safeguard_flags(considered_ratings(peer, records, KINDS, AS_OF), peer.safeguards)
    assert flags == [0, RETALIATION, 0, 0, 0, RETALIATION, RETALIATION, 0]
    # b's reply weighs nothing: a keeps the prior 3; b keeps a's 1 star.
    scores = both(peer, records)
    assert (scores["a"], scores["b"]) == (3.0, 1.0)
    # Rating back at once cancels nothing: f's reply is discounted, e's rating of f stands.
    assert (scores["e"], scores["f"]) == (3.0, 1.0)


def test_collusion_flags_a_clique_of_the_size() -> None:
    clique = ["c1", "c2", "c3", "c4"]
    records = [rating(a, b, 5) for a in clique for b in clique if a != b]
    records.append(rating("c1", "outsider", 5))
    records.append(rating("outsider", "c1", 5))  # a mutual pair, but sharing no partner
    peer = section(algorithm="bayesian", safeguards={"collusion_size": 4})
    flags = safeguard_flags(considered_ratings(peer, records, KINDS, AS_OF), peer.safeguards)
    assert flags == [COLLUSION] * 12 + [0, 0]
    bigger = section(algorithm="bayesian", safeguards={"collusion_size": 5})
    assert set(
        safeguard_flags(considered_ratings(bigger, records, KINDS, AS_OF), bigger.safeguards)
    ) == {0}


def test_newcomers_are_damped() -> None:
    records = [
        met("old", "2025-01-01"),
        met("new", "2025-06-18"),
        rating("old", "x", 5),
        rating("new", "x", 1),  # 2 days after new's first interaction: x0.5
        rating("nobody", "x", 1),  # no interaction at all: x0.5
    ]
    peer = section(
        algorithm="bayesian", safeguards={"newcomer_period": "7d", "newcomer_weight": 0.5}
    )
    flags = safeguard_flags(considered_ratings(peer, records, KINDS, AS_OF), peer.safeguards)
    assert flags == [0, NEWCOMER, NEWCOMER]
    # (5 + 0.5 + 0.5) / (1 + 0.5 + 0.5) = 3.
    assert both(peer, records)["x"] == pytest.approx(3.0)


def test_malformed_ratings_are_ignored() -> None:
    records = [
        rating("s1", "s1", 5),  # self-rating
        rating("", "s1", 5),
        rating("r", "s1", 6),
        rating("r", "s1", True),  # type: ignore[arg-type]
        rating("r", "s1", 2),
    ]
    assert both(section(algorithm="bayesian"), records)["s1"] == 2.0


# ---------------------------------------------------------------- properties


@st.composite
def rating_records(draw: st.DrawFn) -> list[InputRecord]:
    records = []
    for person in draw(st.lists(st.sampled_from(PEOPLE), max_size=8)):
        records.append(met(person, (AS_OF - timedelta(days=draw(st.integers(0, 40)))).isoformat()))
    for _ in range(draw(st.integers(0, 40))):
        rater, rated = draw(st.lists(st.sampled_from(PEOPLE), min_size=2, max_size=2, unique=True))
        day = AS_OF - timedelta(days=draw(st.integers(0, 45)))
        stars = draw(st.sampled_from([1, 2, 3, 4, 5, 5, 5]))
        records.append(rating(rater, rated, stars, day.isoformat()))
    return records


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(peer=sections(), records=rating_records())
def test_vectorized_agrees_with_the_reference(
    peer: PeerSection, records: list[InputRecord]
) -> None:
    found = considered_ratings(peer, records, KINDS, AS_OF)
    try:
        reference = reference_peer_scores(peer, records, KINDS, AS_OF)
    except SeedsAbsent:  # seeds who rated nobody: an error on both paths, never the prior
        with pytest.raises(SeedsAbsent):
            RatingGraph.of(peer, found)
        return
    graph = RatingGraph.of(peer, found)
    vectorized = compute_peer_scores(peer, graph)
    assert vectorized.discounts.flags.tolist() == safeguard_flags(found, peer.safeguards)
    assert sorted(reference) == list(graph.nodes)
    for subject, expected in reference.items():
        got = vectorized.explain(subject)
        assert got.score == pytest.approx(expected.score, abs=1e-7)
        assert -1e-9 <= got.score <= 5 + 1e-9  # a mean of 1-5 stars, up to rounding
        # Rounding may stop one implementation an iteration before the other at the threshold.
        assert abs(got.iterations - expected.iterations) <= 1
        assert got.converged == expected.converged
        assert len(got.ratings) == len(expected.ratings)
        for mine, theirs in zip(got.ratings, expected.ratings, strict=True):
            assert (mine.record, mine.rater, mine.stars, mine.occurred_at, mine.reasons) == (
                theirs.record,
                theirs.rater,
                theirs.stars,
                theirs.occurred_at,
                theirs.reasons,
            )
            assert mine.age_days == theirs.age_days
            assert math.isclose(mine.weight, theirs.weight, rel_tol=1e-7, abs_tol=1e-9)
    assert vectorized.score_of("nobody") == peer.prior


@settings(max_examples=100, deadline=None)
@given(records=rating_records(), window=st.sampled_from(["1d", "7d", "30d"]))
def test_the_first_low_rating_between_two_people_always_keeps_its_weight(
    records: list[InputRecord], window: str
) -> None:
    peer = section(algorithm="bayesian", safeguards={"retaliation_window": window})
    found = considered_ratings(peer, records, KINDS, AS_OF)
    flags = safeguard_flags(found, peer.safeguards)
    first: dict[frozenset[str], tuple[date, int]] = {}
    for index, r in enumerate(found.ratings):
        if r.stars <= 2:
            pair = frozenset((r.rater, r.rated))
            first[pair] = min(first.get(pair, (r.occurred_at, index)), (r.occurred_at, index))
    for _, index in first.values():
        assert not flags[index] & RETALIATION
    graph = RatingGraph.of(peer, found)
    assert compute_peer_scores(peer, graph).discounts.flags.tolist() == flags


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    peer=sections(),
    records=rating_records(),
    updates=st.lists(
        st.tuples(
            st.integers(0, 7), st.integers(0, 7), st.sampled_from([1, 2, 5]), st.integers(0, 3)
        ),
        max_size=12,
    ),
)
def test_incremental_updates_match_a_full_recomputation(
    peer: PeerSection, records: list[InputRecord], updates: list[tuple[int, int, int, int]]
) -> None:
    everyone = [met(person, "2025-01-01") for person in PEOPLE]
    found = considered_ratings(peer, everyone + records, KINDS, AS_OF)
    try:
        graph = RatingGraph.of(peer, found)
    except SeedsAbsent:  # no graph to update (the refusal is tested against the reference)
        return
    if graph.size == 0 or peer.valid_days == 0:
        return
    live = IncrementalPeer(compute_peer_scores(peer, graph))
    n = len(graph.nodes)
    for rater, rated, stars, back in updates:
        if rater % n == rated % n:
            continue
        day = day_number(AS_OF) - back
        live.add_rating(NewRating(rater % n, rated % n, float(stars), day, key=f"new/{day}"))
    full = live.recompute()
    assert np.allclose(live.score, full.score, atol=1e-6)
    assert live.flags[: live.m].tolist() == full.discounts.flags.tolist()
    for subject in [*graph.nodes, "nobody"]:
        mine, theirs = live.explain(subject), full.explain(subject)
        assert mine.score == pytest.approx(theirs.score, abs=1e-6)
        assert [(r.record, r.rater, r.stars, r.occurred_at, r.reasons) for r in mine.ratings] == [
            (r.record, r.rater, r.stars, r.occurred_at, r.reasons) for r in theirs.ratings
        ]
        for a, b in zip(mine.ratings, theirs.ratings, strict=True):
            assert a.weight == pytest.approx(b.weight, abs=1e-6)


def test_incremental_refuses_a_new_subject() -> None:
    peer = section(algorithm="bayesian")
    graph = RatingGraph.of(peer, considered_ratings(peer, [rating("a", "b", 5)], KINDS, AS_OF))
    live = IncrementalPeer(compute_peer_scores(peer, graph))
    with pytest.raises(ValueError, match="full recomputation"):
        live.add_rating(NewRating(0, 2, 5.0, day_number(AS_OF)))


def test_incremental_starts_from_a_graph_without_ratings() -> None:
    """The sums of a graph without ratings are floats (``bincount`` of nothing gives integers,
    which truncated every update: the first rating's pushes never settled)."""
    peer = section(algorithm="nosedive")
    day = day_number(AS_OF)
    empty = np.zeros(0, dtype=np.int64)
    graph = RatingGraph(
        nodes=["a", "b"],
        rater=empty,
        rated=empty,
        stars=np.zeros(0),
        day=empty,
        decay=np.zeros(0),
        first_day=np.array([day - 400, day - 400], dtype=np.int64),
        seeds=empty,
        as_of_day=day,
    )
    live = IncrementalPeer(compute_peer_scores(peer, graph))
    assert live.num.dtype == live.den.dtype == np.float64
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the update did not settle"))
    signal.alarm(20)
    try:
        live.add_rating(NewRating(0, 1, 1.0, day))
    finally:
        signal.alarm(0)
    assert live.score == pytest.approx(live.recompute().score, abs=1e-6)


def test_a_graph_too_large_for_the_pair_keys_is_refused() -> None:
    """Pairs of subjects are keyed ``low * n + high`` (times 2, with the direction) in 64 bits."""
    one = np.zeros(1, dtype=np.int64)
    graph = RatingGraph(
        nodes=range(2**31),  # type: ignore[arg-type]  # only its length is read
        rater=one,
        rated=one + 1,
        stars=np.array([5.0]),
        day=one,
        decay=np.ones(1),
        first_day=np.zeros(2, dtype=np.int64),
        seeds=np.zeros(0, dtype=np.int64),
        as_of_day=1,
    )
    with pytest.raises(ValueError, match="at most 2,147,483,647"):
        discount_ratings(
            graph, section(algorithm="bayesian", safeguards={"collusion_size": 3}).safeguards
        )
