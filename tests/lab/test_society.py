"""The lab's simulated society: circles, bad moods, status-seeking, retaliation, collusion rings
and sybils; the rating graph built from its arrays; gate denials and cascades."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xinyong.domain.catalog import load_catalog
from xinyong.lab.behaviour import Behaviour
from xinyong.lab.cascades import GateWatch
from xinyong.lab.experiment import ExperimentError, load_experiment, resolve_scheme
from xinyong.lab.report import write_outputs
from xinyong.lab.runner import run_experiment
from xinyong.lab.society import Society, small_world
from xinyong.lab.sweep import sweep_variants
from xinyong.lab.world import EPOCH, World, build_world
from xinyong.peer.algorithms import compute_peer_scores
from xinyong.peer.graph import graph_from_table
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.schemes.model import PeerSection

TOWN = """
name = "town"
seed = 4
years = 1
start = 2024-01-01
step = "1w"
[population]
people = 240
"""


def _world(tmp_path: Path, **behaviour: Any) -> tuple[World, Behaviour]:
    path = tmp_path / "town.toml"
    lines = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in behaviour.items())
    path.write_text(TOWN + "[behaviour]\n" + lines + '[[schemes]]\npilot = "nosedive-gate"\n')
    experiment = load_experiment(path)
    return build_world(experiment, load_catalog(), 0), experiment.behaviour


def _section(world: World, behaviour: Behaviour) -> PeerSection:
    """The pilot's [peer] section with the lab's seed stand-ins, as an arm has it."""
    peer = load_scheme(bundled_pilots()["nosedive-gate"]).scheme.peer
    assert peer is not None
    stand_ins = tuple(world.population.subject_id[: behaviour.peer_seeds].to_pylist())
    return peer.model_copy(update={"seeds": stand_ins})


def _ratings(society: Society, t: int) -> tuple[np.ndarray, ...]:
    step = next(s for s in society._steps if s.t == t)
    return step.rater, step.rated, step.stars, step.day


# ------------------------------------------------------------------------------ the graph


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    retaliation=st.sampled_from([0.0, 0.5, 1.0]),
    rings=st.integers(0, 3),
    sybils=st.sampled_from([0, 1, 2, 7]),
    status=st.sampled_from([(0.0, 0.0), (4.4, 0.7)]),
    circle=st.sampled_from([0.0, 0.8, 1.0]),
    decay=st.sampled_from(["step", "linear"]),
    valid=st.sampled_from(["30d", "10d"]),
)
def test_the_graph_from_arrays_is_the_graph_from_records(
    tmp_path: Path,
    retaliation: float,
    rings: int,
    sybils: int,
    status: tuple[float, float],
    circle: float,
    decay: str,
    valid: str,
) -> None:
    """The fast path (:meth:`Society.graph`) gives exactly what the engine's path gives from
    the ledger-format records (:func:`graph_from_table`), and so the same peer scores."""
    world, behaviour = _world(
        tmp_path,
        interactions_per_month=12.0,
        retaliation_rate=retaliation,
        collusion_rings=rings,
        ring_size=5,
        sybils=sybils,
        sybil_delay_days=7,
        status_line=status[0],
        status_avoidance=status[1],
        circle_share=circle,
        bad_day_rate=0.2,
    )
    section = _section(world, behaviour).model_copy(update={"decay": decay, "valid_for": valid})
    society = Society(world, behaviour)
    rng = np.random.default_rng(1)
    for t in range(5):
        society.step(t, rng.uniform(3.5, 5.0, len(society.ids)))
        fast = society.graph(section, t, 30, ("person",))
        slow = graph_from_table(section, society.records(t, 30), ("person",), world.as_of(t))
        assert list(fast.nodes) == list(slow.nodes)
        for name in ("rater", "rated", "stars", "day", "decay", "first_day", "seeds"):
            assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
        assert fast.as_of_day == slow.as_of_day
        ours, theirs = compute_peer_scores(section, fast), compute_peer_scores(section, slow)
        assert np.array_equal(ours.score, theirs.score)


def test_the_small_world_is_a_ring_of_circles_with_some_ties_rewired() -> None:
    start, friends = small_world(1000, 10, 0.0, key=1)
    degree = np.diff(start)
    assert (degree == 10).all()  # five on each side
    assert set(friends[start[0] : start[1]]) == {1, 2, 3, 4, 5, 995, 996, 997, 998, 999}
    start, friends = small_world(1000, 10, 0.2, key=1)
    owner = np.repeat(np.arange(1000), np.diff(start))
    assert not (owner == friends).any()  # never one's own friend
    far = np.minimum((friends - owner) % 1000, (owner - friends) % 1000) > 5
    assert 0.15 < far.mean() < 0.25  # about a fifth of the ties lead elsewhere
    again = small_world(1000, 10, 0.2, key=1)
    assert np.array_equal(again[1], friends)


@pytest.mark.parametrize(("share", "low", "high"), [(1.0, 1.0, 1.0), (0.0, 0.0, 0.1)])
def test_circle_share_decides_how_many_partners_are_friends(
    tmp_path: Path, share: float, low: float, high: float
) -> None:
    world, behaviour = _world(tmp_path, circle_share=share, interactions_per_month=20.0)
    society = Society(world, behaviour)
    society.step(0, np.full(len(society.ids), 4.5))
    step = society._steps[0]
    friend = sp.csr_matrix(
        (np.ones(society.friends.size), society.friends, society.start), shape=(240, 240)
    )
    meets = np.asarray(friend[step.about, step.counterpart]).ravel() > 0
    assert low <= meets.mean() <= high


def test_a_bad_day_lowers_the_ratings_one_gets_and_gives(tmp_path: Path) -> None:
    world, behaviour = _world(
        tmp_path,
        bad_day_rate=0.3,
        bad_day_drop=2.0,
        bad_mood_drop=2.0,
        herding=0.0,
        interactions_per_month=30.0,
    )
    society = Society(world, behaviour)
    society.step(0, np.full(len(society.ids), 4.5))
    rater, rated, stars, _ = _ratings(society, 0)
    bad = society.bad_day
    assert bad.any()
    assert stars[bad[rated]].mean() < stars[~bad[rated] & ~bad[rater]].mean() - 1
    assert stars[bad[rater]].mean() < stars[~bad[rated] & ~bad[rater]].mean() - 1
    calm = Society(world, behaviour, shocks=False)  # the counterfactual: no bad days
    calm.step(0, np.full(len(society.ids), 4.5))
    assert not calm.bad_day.any()
    assert np.array_equal(calm._steps[0].about, society._steps[0].about)  # same meetings


def test_status_seekers_avoid_people_below_the_line(tmp_path: Path) -> None:
    world, behaviour = _world(
        tmp_path, status_line=4.0, status_avoidance=1.0, interactions_per_month=20.0
    )
    visible = np.full(world.population.size, 4.5)
    visible[:60] = 3.0  # a quarter of the town is below the line
    society = Society(world, behaviour)
    society.step(0, visible)
    step = society._steps[0]
    assert not (step.about < 60).any()  # nobody meets them at all
    world, behaviour = _world(tmp_path, interactions_per_month=20.0)
    open_town = Society(world, behaviour)
    open_town.step(0, visible)
    assert (open_town._steps[0].about < 60).any()


def test_retaliation_answers_low_ratings_within_its_days(tmp_path: Path) -> None:
    world, behaviour = _world(
        tmp_path,
        retaliation_rate=1.0,
        retaliation_days=3,
        herding=0.0,
        quality_mean=2.5,
        quality_sd=1.0,
        interactions_per_month=10.0,
    )
    society = Society(world, behaviour)
    for t in range(3):
        society.step(t, np.full(len(society.ids), 4.5))
    rater, rated, stars, day = (
        np.concatenate(a) for a in zip(*[_ratings(society, t) for t in range(3)], strict=True)
    )
    replies = {
        (int(a), int(b), int(d))
        for a, b, s, d in zip(rater, rated, stars, day, strict=True)
        if s == 1
    }
    low = [
        (int(a), int(b), int(d))
        for a, b, s, d in zip(*_ratings(society, 0), strict=True)
        if s <= 2 and b < world.population.people
    ]
    assert low
    next_step = (world.as_of(0) - EPOCH).days + 1
    for who, whom, when in low:  # every low rating of the first step is answered, 1-3 days on
        # (a retaliation is answered in the next step: 1-3 days after it, or into that step)
        starts = {when, max(when, next_step)}
        assert any((whom, who, x + k) in replies for x in starts for k in (1, 2, 3)), (
            who,
            whom,
            when,
            sorted(r for r in replies if {r[0], r[1]} == {who, whom}),
        )
    world, behaviour = _world(tmp_path, retaliation_rate=0.0, herding=0.0, quality_mean=2.5)
    calm = Society(world, behaviour)
    calm.step(0, np.full(len(calm.ids), 4.5))
    assert calm._steps[0].rater.size == 2 * (calm._steps[0].about.size // 2)  # meetings only


def test_collusion_rings_rate_each_other_five_stars_every_step(tmp_path: Path) -> None:
    world, behaviour = _world(tmp_path, collusion_rings=2, ring_size=4, quality_mean=2.0)
    society = Society(world, behaviour)
    assert society.rings.shape == (2, 4)
    assert society.target in society.rings[0]
    assert not (society.rings < behaviour.peer_seeds).any()  # never a seed stand-in
    for t in range(2):
        society.step(t, np.full(len(society.ids), 4.5))
        rater, rated, stars, _ = _ratings(society, t)
        for ring in society.rings:
            pairs = {
                (int(a), int(b))
                for a, b, s in zip(rater, rated, stars, strict=True)
                if s == 5 and a in ring and b in ring
            }
            assert len(pairs) == 4 * 3  # every member rated every other 5 stars


@pytest.mark.parametrize(("goal", "stars"), [("sink", 1), ("boost", 5)])
def test_sybils_appear_after_their_delay_and_rate_the_target(
    tmp_path: Path, goal: str, stars: int
) -> None:
    world, behaviour = _world(tmp_path, sybils=6, sybil_goal=goal, sybil_delay_days=10)
    society = Society(world, behaviour)
    fake = world.population.size + np.arange(6)
    created = (world.start - EPOCH).days + 10
    for t in range(4):
        society.step(t, np.full(len(society.ids), 4.5))
        rater, rated, given, day = _ratings(society, t)
        attack = np.isin(rater, fake) & (rated == society.target)
        active = (world.as_of(t) - EPOCH).days >= created
        assert attack.sum() == (6 if active else 0)
        assert (given[attack] == stars).all()
        assert (day[np.isin(rater, fake)] >= created).all()
    records = society.records(3, 30)
    assert pc.any(pc.match_substring(records["attrs"], "lab-sybil-000005")).as_py()
    calm = Society(world, behaviour, shocks=False)
    for t in range(4):
        calm.step(t, np.full(len(calm.ids), 4.5))
    assert not np.isin(np.concatenate([s.rater for s in calm._steps]), fake).any()


def test_the_target_is_the_person_at_the_quantile_and_never_a_seed(tmp_path: Path) -> None:
    world, behaviour = _world(tmp_path, target_quantile=0.0)
    society = Society(world, behaviour)
    people = world.population.people
    assert society.target >= behaviour.peer_seeds
    assert (
        world.peer_quality[society.target]
        == world.peer_quality[behaviour.peer_seeds : people].min()
    )


# ------------------------------------------------------------------------------ cascades


def test_a_cascade_counts_the_wrongly_denied_around_a_bad_day() -> None:
    """Person 0 has a bad day at step 0; 1 and 2 met 0; 3 met nobody of them; 2 had a bad day of
    its own. Wrongly denied within the window: 0, 1, 2 and 3; the cascade of 0 is {0, 1}."""
    people = 5
    labels = np.zeros(people, np.int64)
    watch = GateWatch(people, 7, 1, {"region": (labels, 1)}, np.zeros(people, np.bool_))
    everyone = np.ones(people, np.bool_)
    none = np.zeros(people, np.bool_)
    bad0 = np.array([1, 0, 0, 0, 0], np.bool_)
    denied0 = np.array([1, 0, 0, 1, 0], np.bool_)
    met0 = (np.array([0, 1]), np.array([1, 0]))
    row = watch.observe(0, everyone, denied0, none, bad0, met0)
    assert row["wrongful_gate_denials"] == 1.0
    assert math.isnan(row["cascade_size"])  # its window is still open
    bad1 = np.array([0, 0, 1, 0, 0], np.bool_)
    denied1 = np.array([0, 1, 1, 0, 0], np.bool_)
    counterfactual1 = np.array([0, 0, 0, 0, 0], np.bool_)
    met1 = (np.array([0]), np.array([2]))
    row = watch.observe(1, everyone, denied1, counterfactual1, bad1, met1)
    assert row["cascade_size"] == 2.0
    assert watch.sizes == [(0, 2)]
    assert row["time_to_recover_days"] == 7.0  # 0 and 3 recovered after one step
    row = watch.observe(2, everyone, none, none, none, (np.zeros(0, np.int64),) * 2)
    assert watch.sizes == [(0, 2), (1, 1)]  # 2's own bad day: only itself


def test_a_cascade_leaves_out_who_was_wrongly_denied_before_the_bad_day() -> None:
    """1 was wrongly denied before 0's bad day and stays so: not pushed by it."""
    people = 3
    watch = GateWatch(people, 7, 0, {}, np.zeros(people, np.bool_))
    everyone, none = np.ones(people, np.bool_), np.zeros(people, np.bool_)
    empty = (np.zeros(0, np.int64),) * 2
    watch.observe(0, everyone, np.array([0, 1, 0], np.bool_), none, none, empty)
    bad = np.array([1, 0, 0], np.bool_)
    met = (np.array([0, 0]), np.array([1, 2]))
    watch.observe(1, everyone, np.array([1, 1, 1], np.bool_), none, bad, met)
    assert watch.sizes == [(1, 2)]  # 0 itself and 2, not 1


def test_an_arm_and_its_counterfactual_answer_the_same_low_ratings(tmp_path: Path) -> None:
    """Retaliation draws belong to the rating, not its place in the step: collusion rings (only
    in the arm) and status-seeking that differs between them shift every place."""
    world, behaviour = _world(
        tmp_path,
        retaliation_rate=0.5,
        collusion_rings=3,
        ring_size=4,
        status_line=4.2,
        status_avoidance=0.7,
        bad_day_rate=0.0,
        herding=0.0,
        quality_mean=3.0,
        interactions_per_month=12.0,
    )
    arm, twin = Society(world, behaviour), Society(world, behaviour, shocks=False)
    seen = np.full(len(arm.ids), 4.5)
    other = seen.copy()
    other[:40] = 3.0  # some people below the status line in the twin only
    arm.step(0, seen)
    twin.step(0, other)

    def replies(society: Society) -> set[tuple[int, int, int]]:
        rater, rated, stars, day = _ratings(society, 0)
        return {
            (int(a), int(b), int(d))
            for a, b, s, d in zip(rater, rated, stars, day, strict=True)
            if s == 1
        }

    def low(society: Society) -> set[tuple[int, int, int]]:
        rater, rated, stars, day = _ratings(society, 0)
        return {
            (int(a), int(b), int(d))
            for a, b, s, d in zip(rater, rated, stars, day, strict=True)
            if s <= 2 and b < 240
        }

    both = low(arm) & low(twin)
    assert len(both) > 20
    for who, whom, when in both:  # a low rating both have is answered in both or in neither
        answered = [
            any((whom, who, when + k) in replies(s) for k in (1, 2, 3)) for s in (arm, twin)
        ]
        assert answered[0] == answered[1], (who, whom, when)


def test_missed_misconduct_is_the_share_of_bad_actors_let_through() -> None:
    people = 4
    watch = GateWatch(people, 7, 0, {}, np.array([1, 1, 0, 0], np.bool_))
    everyone = np.ones(people, np.bool_)
    denied = np.array([1, 0, 0, 0], np.bool_)
    row = watch.observe(
        0, everyone, denied, denied, np.zeros(people, np.bool_), (np.zeros(0, np.int64),) * 2
    )
    assert row["missed_misconduct"] == 0.5
    assert row["wrongful_gate_denials"] == 0.0


# ------------------------------------------------------------------------------ runs


GATED = """
name = "gated town"
seed = 8
replicates = 2
years = 1
start = 2024-01-01
step = "2w"
summary_months = 3
gate = "board-flight"
baseline = "pilot"
[population]
people = 300
[behaviour]
interactions_per_month = 16
herding = 0.5
bad_day_rate = 0.1
[[societies]]
label = "plain"
[[societies]]
label = "sybils"
attack = "swarm"
budget = 8
sybils = 8
[[schemes]]
pilot = "nosedive-gate"
label = "pilot"
[[schemes]]
pilot = "nosedive-gate"
label = "bayesian"
changes = { "peer.algorithm" = "bayesian", "peer.seeds" = [] }
"""


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    folder = tmp_path_factory.mktemp("gated")
    path = folder / "gated.toml"
    path.write_text(GATED, encoding="utf-8")
    return path, run_experiment(load_experiment(path), folder)


def test_gated_runs_report_wrongful_denials_cascades_and_attacks(gated: tuple[Path, Any]) -> None:
    path, result = gated
    metrics = result.metrics
    assert set(metrics["society"].to_pylist()) == {"plain", "sybils"}
    for column in (
        "wrongful_gate_denials", "cascade_size", "time_to_recover_days", "gate_denial_rate",
        "wrongful_denial_impact:income_band", "target_shift", "discounted_newcomer",
    ):  # fmt: skip
        assert column in metrics.column_names, column
    shares = [v for v in metrics["wrongful_gate_denials"].to_pylist() if v is not None]
    assert all(0.0 <= v <= 1.0 for v in shares)
    assert max(shares) > 0  # bad days ground people the counterfactual does not
    assert result.cascades.num_rows > 0
    assert set(result.summary) == {
        "plain / pilot",
        "plain / bayesian",
        "sybils / pilot",
        "sybils / bayesian",
    }
    assert not math.isnan(result.intervals["plain / pilot"]["gate_denial_rate"])
    swarm = result.summary["sybils / bayesian"]["target_shift"]
    assert swarm < 0  # eight fake accounts pull an unseeded Bayesian average down
    out = write_outputs(result, GATED, path.parent / "out")
    page = out["report"].read_text(encoding="utf-8")
    assert "Gate denials and cascades" in page
    assert "Attacks" in page
    assert "against pilot in its society" in page
    cascades = pacsv.read_csv(out["cascades"])
    assert cascades.num_rows == result.cascades.num_rows


def test_two_runs_with_the_same_seed_give_identical_metrics(gated: tuple[Path, Any]) -> None:
    path, result = gated
    again = run_experiment(load_experiment(path), path.parent)
    assert again.metrics.to_pandas().equals(result.metrics.to_pandas())
    assert again.cascades.equals(result.cascades)


def test_a_society_naming_an_unknown_parameter_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GATED.replace("sybils = 8\n", "sybils = 8\nsybbils = 3\n"), encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"societies.*sybbils"):
        load_experiment(path)


def test_changes_and_peer_sweeps_name_settings_that_exist(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GATED.replace('"peer.algorithm"', '"peer.algorythm"'), encoding="utf-8")
    experiment = load_experiment(path)
    with pytest.raises(ExperimentError, match=r"no setting 'peer\.algorythm'"):
        resolve_scheme(experiment.schemes[1], tmp_path)
    bundled = load_experiment(
        Path(__file__).parents[2] / "src/xinyong/lab/experiments/nosedive-safeguards.toml"
    )
    assert bundled.sweep is not None
    variants = sweep_variants(resolve_scheme(bundled.sweep.scheme, tmp_path), bundled.sweep)
    assert len(variants) == 12
    label, loaded = variants[-1]
    assert label == "peer min_ratings=30, peer valid_for=90d, peer safeguards.retaliation_weight=1"
    assert loaded.scheme.peer is not None
    assert loaded.scheme.peer.min_ratings == 30
    assert len({v.version for _, v in variants}) == 12
