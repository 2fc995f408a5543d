"""The pilot lab: experiments, the simulated world, arms, metrics, sweeps and the report."""

from __future__ import annotations

import html
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import xinyong.lab
from xinyong.domain.catalog import load_catalog
from xinyong.engines.duckdb import score_table
from xinyong.engines.step_scorer import StepScorer
from xinyong.lab.behaviour import PARAMETERS, Behaviour
from xinyong.lab.experiment import (
    Experiment,
    ExperimentError,
    bundled_experiments,
    load_experiment,
    resolve_scheme,
)
from xinyong.lab.metrics import churn, disparate_impact, gini
from xinyong.lab.report import GLOSSARY, SUMMARY_COLUMNS, write_outputs
from xinyong.lab.runner import arms_of, run_experiment
from xinyong.lab.society import Society
from xinyong.lab.sweep import rank_variants, sweep_variants
from xinyong.lab.world import EPOCH, build_world
from xinyong.peer.algorithms import compute_peer_scores
from xinyong.peer.graph import graph_from_table
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme

SMALL = """
name = "small"
seed = 11
years = 2
start = 2022-01-01
[population]
people = 3000
organizations = 150
[[schemes]]
pilot = "rongcheng"
[[schemes]]
pilot = "judgment-defaulters"
"""


def _experiment(tmp_path: Path, text: str = SMALL, **behaviour: float) -> tuple[Experiment, Path]:
    if behaviour:
        text += "[behaviour]\n" + "".join(f"{k} = {v}\n" for k, v in behaviour.items())
    path = tmp_path / "experiment.toml"
    path.write_text(text, encoding="utf-8")
    return load_experiment(path), path


# ------------------------------------------------------------------------------ metrics


def test_gini_known_values() -> None:
    assert gini(np.array([5.0, 5.0, 5.0])) == 0.0
    assert gini(np.array([0.0, 0.0, 1.0]), floor=0.0) == pytest.approx(2 / 3)
    assert gini(np.array([1.0, 2.0, 3.0, 4.0]), floor=0.0) == pytest.approx(0.25)
    # shifting by the floor: the same spread above the floor, the same Gini
    assert gini(np.array([-1.0, -1.0, 0.0]), floor=-1.0) == pytest.approx(2 / 3)
    assert math.isnan(gini(np.array([])))


def test_disparate_impact_and_four_fifths() -> None:
    group = np.repeat([0, 1], 100)
    listed = np.zeros(200, np.bool_)
    listed[:10] = True  # group 0: 10 %
    listed[100:105] = True  # group 1: 5 %
    ratio, rates = disparate_impact(listed, group, 2)
    assert ratio == pytest.approx(0.5)
    assert rates.tolist() == pytest.approx([0.10, 0.05])
    # a group too small to judge is left out
    ratio, _ = disparate_impact(listed, np.r_[np.zeros(195, int), np.ones(5, int)], 2)
    assert ratio == 1.0
    assert math.isnan(disparate_impact(np.zeros(200, np.bool_), group, 2)[0])


def test_churn_ignores_subjects_without_a_previous_grade() -> None:
    assert churn(np.array([0, 1, -1, 2]), np.array([0, 2, 1, 2])) == pytest.approx(1 / 3)
    assert math.isnan(churn(np.array([-1]), np.array([0])))


# ------------------------------------------------------------------------------ experiment


def test_bundled_experiments_are_valid() -> None:
    found = bundled_experiments()
    assert set(found) == {
        "nosedive", "nosedive-attacks", "nosedive-cascades", "nosedive-safeguards", "pilots",
        "rongcheng-sweep",
    }  # fmt: skip
    for path in found.values():
        experiment = load_experiment(path)
        for ref in experiment.schemes:
            resolve_scheme(ref, path.parent)
        if experiment.sweep is not None:
            base = resolve_scheme(experiment.sweep.scheme, path.parent)
            assert len(sweep_variants(base, experiment.sweep)) in {9, 12}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (SMALL + "colour = 'red'\n", "colour: unknown key"),
        (SMALL.replace("people = 3000", "people = 0"), "population.people"),
        (SMALL + "[behaviour]\nerror_rate = 2\n", "behaviour.error_rate"),
        (SMALL + "[behaviour]\nerror_rte = 0.1\n", "behaviour.error_rte: unknown key"),
        (
            SMALL.replace("organizations = 150", "income_shares = { low = 0.5, middle = 0.2 }"),
            "sum to 1",
        ),
        (SMALL.replace('step = "1m"', "") + 'step = "0d"\n', "step"),
        ('name = "x"\n[population]\npeople = 10\n', "at least one scheme"),
        (
            SMALL.replace("[[schemes]]\npilot", "[[schemes]]\nfile = 'x.toml'\npilot", 1),
            "exactly one",
        ),
    ],
)
def test_experiment_errors_name_the_file_and_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ExperimentError) as error:
        _experiment(tmp_path, text)
    assert "experiment.toml" in str(error.value)
    assert named in str(error.value)


def test_unknown_pilot_is_an_error(tmp_path: Path) -> None:
    experiment, path = _experiment(tmp_path, SMALL.replace('"rongcheng"', '"atlantis"'))
    with pytest.raises(ExperimentError, match="atlantis"):
        run_experiment(experiment, path.parent)


@pytest.mark.parametrize(
    ("named", "refusal"),
    [
        ("/etc/passwd", "no absolute path"),
        ("../secret.toml", "no absolute path, no '..'"),
        ("notes.txt", "name a .toml file"),
        ("missing.toml", "no such file"),
    ],
)
def test_an_experiment_reads_only_scheme_files_beside_it(
    tmp_path: Path, named: str, refusal: str
) -> None:
    (tmp_path / "secret.toml").write_text('password = "hunter2"\n', encoding="utf-8")
    folder = tmp_path / "experiment"
    folder.mkdir()
    experiment, path = _experiment(
        folder, SMALL.replace('pilot = "rongcheng"', f"file = {named!r}", 1)
    )
    with pytest.raises(ExperimentError) as refused:
        run_experiment(experiment, path.parent)
    assert refusal in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_an_experiment_may_name_a_pilot_file(tmp_path: Path) -> None:
    experiment, path = _experiment(
        tmp_path, SMALL.replace('pilot = "rongcheng"', 'file = "rongcheng.toml"', 1)
    )
    assert resolve_scheme(experiment.schemes[0], path.parent).scheme.id == "rongcheng"


# ------------------------------------------------------------------------------ world


def test_world_errors_stay_within_kind_and_time(tmp_path: Path) -> None:
    experiment, _ = _experiment(tmp_path, error_rate=0.2)
    world = build_world(experiment, load_catalog(), 0)
    assert 0.15 < world.erroneous.mean() < 0.25
    kinds = world.records["subject_kind"].to_numpy(zero_copy_only=False)
    assert ((kinds == "person") == world.population.is_person[world.subject]).all()
    step_end = (experiment.start - EPOCH).days + (world.step + 1) * world.step_days - 1
    assert (world.day <= step_end).all()
    # fulfilments point at earlier adverse records with the same case id
    linked = np.flatnonzero(world.listing_of >= 0)
    assert len(linked) > 0
    cases = world.records["case_id"]
    assert pc.take(cases, pa.array(linked)).equals(
        pc.take(cases, pa.array(world.listing_of[linked]))
    )
    assert world.adverse[world.listing_of[linked]].all()


def test_same_seed_same_world(tmp_path: Path) -> None:
    experiment, _ = _experiment(tmp_path)
    a = build_world(experiment, load_catalog(), 0)
    b = build_world(experiment, load_catalog(), 0)
    c = build_world(experiment, load_catalog(), 1)
    assert a.records.equals(b.records)
    assert (a.uniform == b.uniform).all()
    assert not a.records.equals(c.records)


# ------------------------------------------------------------------------------ scoring


@pytest.mark.parametrize(
    "pilot", ["rongcheng", "judgment-defaulters", "tax-credit", "xiamen-egret"]
)
def test_step_scorer_matches_the_duckdb_engine(tmp_path: Path, pilot: str) -> None:
    """The lab's compile-once scoring gives exactly what ``score_table`` gives, at any date."""
    experiment, _ = _experiment(tmp_path)
    world = build_world(experiment, load_catalog(), 0)
    scheme = load_scheme(bundled_pilots()[pilot]).scheme
    scorer = StepScorer(scheme)
    for step in (0, 7, world.steps - 1):
        as_of = world.as_of(step)
        records = world.records.filter(pa.array(world.step <= step))
        ours = scorer.score(records, world.subjects, as_of).sort_by("subject_id")
        engine = score_table(scheme, records, as_of, world.subjects).sort_by("subject_id")
        kinds = pc.is_in(world.subjects["kind"], value_set=pa.array(list(scheme.subject_kinds)))
        assert ours.num_rows == engine.num_rows
        if scheme.eligibility is None:  # else the minors of the world are left out
            assert engine.num_rows == pc.sum(kinds).as_py()
        else:
            assert 0 < engine.num_rows < pc.sum(kinds).as_py()
        for column in ("subject_id", "grade", "lists", "measures"):
            assert ours[column].equals(engine[column]), column
        assert np.allclose(ours["score"].to_numpy(), engine["score"].to_numpy())


# ------------------------------------------------------------------------------ runs


def test_same_seed_same_metrics(tmp_path: Path) -> None:
    experiment, path = _experiment(tmp_path)
    first = run_experiment(experiment, path.parent).metrics
    second = run_experiment(experiment, path.parent).metrics
    assert first.num_rows == 2 * 24
    assert first.to_pandas().equals(second.to_pandas())  # NaN in the same places counts as equal


def test_without_deterrence_every_act_happens(tmp_path: Path) -> None:
    experiment, path = _experiment(tmp_path, detection_elasticity=0, sanction_elasticity=0)
    metrics = run_experiment(experiment, path.parent).metrics
    assert pc.all(pc.equal(metrics["violations"], metrics["control_violations"])).as_py()


def test_deterrence_matches_the_model(tmp_path: Path) -> None:
    """With only detection deterrence, the share of acts deterred is the elasticity times the
    share of acts whose code the scheme counts (up to sampling noise)."""
    experiment, path = _experiment(tmp_path, detection_elasticity=0.5, sanction_elasticity=0)
    metrics = run_experiment(experiment, path.parent).metrics
    world = build_world(experiment, load_catalog(), 0)
    scheme = load_scheme(bundled_pilots()["rongcheng"]).scheme
    counted = np.array(
        [any(r.matches(c) and r.unit_points < 0 for r in scheme.rules) for c in world.codes]
    )
    acts = world.adverse & ~world.erroneous
    expected = 0.5 * counted[world.code[acts]].mean()
    arm = metrics.filter(pc.field("arm") == "rongcheng")
    observed = 1 - pc.sum(arm["violations"]).as_py() / pc.sum(arm["control_violations"]).as_py()
    assert observed == pytest.approx(expected, abs=0.03)
    assert expected > 0.1


def test_no_errors_no_wrongful_listings(tmp_path: Path) -> None:
    experiment, path = _experiment(tmp_path, error_rate=0)
    metrics = run_experiment(experiment, path.parent).metrics
    assert pc.sum(metrics["wrongful_listings"]).as_py() == 0


def test_errors_cause_wrongful_listings_that_objections_clear(tmp_path: Path) -> None:
    experiment, path = _experiment(
        tmp_path, error_rate=0.3, objection_rate=1, objection_win_rate=1, objection_days=0
    )
    metrics = run_experiment(experiment, path.parent).metrics
    court = metrics.filter(pc.field("arm") == "judgment-defaulters")
    assert pc.sum(court["wrongful_listings"]).as_py() > 0
    cleared = [v for v in court["time_to_clear_days"].to_pylist() if not math.isnan(v)]
    assert cleared, "every wrongful listing is objected to and won: some must have cleared"
    assert max(cleared) <= 2 * experiment.step_days


def test_sweep_ranks_feasible_variants_first(tmp_path: Path) -> None:
    text = (
        SMALL.split("[[schemes]]", maxsplit=1)[0]
        + """
[sweep]
scheme = { pilot = "rongcheng" }
maximize = "deterrence"
constraints = [{ metric = "wrongful_listing_rate", op = "<=", value = 1.0 }]
[[sweep.parameters]]
rule = "fraud"
field = "points"
values = [-10, -90]
"""
    )
    experiment, path = _experiment(tmp_path, text)
    result = run_experiment(experiment, path.parent)
    assert [r.rank for r in result.ranking] == [1, 2]
    assert all(r.feasible for r in result.ranking)
    assert result.ranking[0].objective >= result.ranking[1].objective
    assert {r.label for r in result.ranking} == {"rule fraud points=-10", "rule fraud points=-90"}


def _summary(deterrence: float, wrongful: float, impact: float) -> dict[str, float]:
    return {
        "deterrence": deterrence,
        "wrongful_listing_rate": wrongful,
        "disparate_impact": impact,
    }


def test_rank_puts_constraint_failures_last() -> None:
    experiment = load_experiment(bundled_experiments()["rongcheng-sweep"])
    assert experiment.sweep is not None
    ranked = rank_variants(
        experiment.sweep,
        {
            "best but unfair": {
                "deterrence": 0.9,
                "wrongful_listing_rate": 0.0,
                "disparate_impact": 0.5,
            },
            "fair": {"deterrence": 0.2, "wrongful_listing_rate": 0.001, "disparate_impact": 0.9},
            "fairer": {"deterrence": 0.3, "wrongful_listing_rate": 0.001, "disparate_impact": 0.95},
        },
    )
    assert [r.label for r in ranked] == ["fairer", "fair", "best but unfair"]
    assert ranked[2].failed == ("disparate_impact >= 0.8",)
    with pytest.raises(ExperimentError, match="no metric"):
        rank_variants(experiment.sweep, {"x": {"deterrence": 1.0}})


def test_a_sweep_naming_no_metric_fails_before_running(tmp_path: Path) -> None:
    text = (
        SMALL.split("[[schemes]]", maxsplit=1)[0]
        + """
[sweep]
scheme = { pilot = "rongcheng" }
maximize = "deterence"
[[sweep.parameters]]
rule = "fraud"
field = "points"
values = [-10]
"""
    )
    experiment, path = _experiment(tmp_path, text)
    with pytest.raises(ExperimentError, match="deterence"):
        arms_of(experiment, path.parent)


def test_sweep_of_an_unknown_rule_is_an_error() -> None:
    experiment = load_experiment(bundled_experiments()["rongcheng-sweep"])
    assert experiment.sweep is not None
    base = resolve_scheme(experiment.sweep.scheme, Path("."))
    broken = experiment.sweep.model_copy(
        update={
            "parameters": (
                experiment.sweep.parameters[0].model_copy(update={"rule": "no-such-rule"}),
            )
        }
    )
    with pytest.raises(ExperimentError, match="no-such-rule"):
        sweep_variants(base, broken)


# ------------------------------------------------------------------------------ report


def test_the_lab_runs_from_python_into_a_dataframe(tmp_path: Path) -> None:
    """``xinyong.lab.run`` (for notebooks): the metrics as a pandas DataFrame, the same as the
    run's table, with progress counted over the whole run (every replicate) for an ETA."""
    experiment, path = _experiment(
        tmp_path, SMALL.replace("years = 2", "years = 1\nreplicates = 2")
    )
    calls: list[tuple[str, int, int]] = []
    frame = xinyong.lab.run(path, progress=lambda *call: calls.append(call))
    assert isinstance(frame, pd.DataFrame)
    assert frame.equals(run_experiment(experiment, path.parent).metrics.to_pandas())
    assert sorted(frame["replicate"].unique()) == [0, 1]
    total = 2 * 12 * 2  # replicates x monthly steps x arms
    assert [done for _, done, _ in calls] == list(range(1, total + 1))
    assert {whole for _, _, whole in calls} == {total}
    assert calls[0][0] == "replicate 1/2: 2 arms x steps"
    assert calls[-1][0] == "replicate 2/2: 2 arms x steps"


def test_report_is_self_contained_with_metrics_files(tmp_path: Path) -> None:
    experiment, path = _experiment(tmp_path)
    result = run_experiment(experiment, path.parent)
    paths = write_outputs(result, path.read_text(encoding="utf-8"), tmp_path / "out")
    page = paths["report"].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert page.count("<svg") >= 8
    for arm in ("rongcheng", "judgment-defaulters"):
        assert arm in page
    for parameter in PARAMETERS:
        assert parameter.name in page
    assert "seeds [11, 0]" in page
    glossary = page[page.index("What the columns mean") :]
    for column in SUMMARY_COLUMNS:  # every summary column is explained, with a direction
        meaning, better = GLOSSARY[column]
        assert f"<code>{column}</code></td><td>{html.escape(meaning)}</td>" in glossary
        assert better
    table = pq.read_table(paths["parquet"])
    assert table.num_rows == result.metrics.num_rows
    assert paths["csv"].read_text(encoding="utf-8").count("\n") == table.num_rows + 1


def test_cli_runs_an_experiment(tmp_path: Path) -> None:
    _, path = _experiment(tmp_path)
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "xinyong", "lab", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "report.html").exists()
    assert "rongcheng" in done.stdout
    # a narrow terminal wraps the metric names rather than cutting them with an ellipsis
    assert "…" not in done.stdout
    assert "wrongful_" in done.stdout


def test_cli_reports_a_bad_experiment(tmp_path: Path) -> None:
    experiment = tmp_path / "bad.toml"
    experiment.write_text("name = 1\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "xinyong", "lab", "run", str(experiment)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert "bad.toml" in done.stderr


def test_behaviour_defaults_are_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "lab.md").read_text(encoding="utf-8")
    for parameter in PARAMETERS:
        row = re.search(rf"^\| `{parameter.name}` \| ([^|]+) \|", docs, re.MULTILINE)
        assert row is not None, parameter.name
        if isinstance(parameter.default, str):
            assert row.group(1).strip() == f'"{parameter.default}"', parameter.name
        else:
            assert float(row.group(1)) == float(str(parameter.default)), parameter.name
    for name, value in Behaviour().model_dump().items():
        assert value == next(p.default for p in PARAMETERS if p.name == name)


PEER = """
name = "peer town"
seed = 9
years = 1
start = 2024-01-01
step = "1w"
[population]
people = 300
[behaviour]
interactions_per_month = 8
[[schemes]]
pilot = "nosedive-gate"
[[schemes]]
pilot = "judgment-defaulters"
"""


def test_every_arm_keeps_its_own_grades_and_lists(tmp_path: Path) -> None:
    experiment, path = _experiment(tmp_path)
    metrics = run_experiment(experiment, path.parent).metrics
    for arm, grades in (("rongcheng", ("AAA", "D")), ("judgment-defaulters", ("CLEAR", "LISTED"))):
        rows = metrics.filter(pc.field("arm") == arm)
        for grade in grades:
            shares = rows[f"grade_share:{grade}"].to_pylist()
            assert all(share is not None for share in shares), (arm, grade)
    court = metrics.filter(pc.field("arm") == "judgment-defaulters")
    assert court["list_size:defaulters"].to_pylist() == court["listed"].to_pylist()
    inflow = pc.sum(court["list_inflow:defaulters"]).as_py()
    outflow = pc.sum(court["list_outflow:defaulters"]).as_py()
    assert inflow - outflow == court["listed"].to_pylist()[-1]


def test_peer_schemes_rate_and_report_the_haywire_index(tmp_path: Path) -> None:
    experiment, path = _experiment(tmp_path, PEER)
    metrics = run_experiment(experiment, path.parent).metrics
    gate = metrics.filter(pc.field("arm") == "nosedive-gate")
    court = metrics.filter(pc.field("arm") == "judgment-defaulters")
    haywire = gate["haywire_index"].to_pylist()
    assert all(0.0 <= h <= 1.0 for h in haywire[1:])  # the first step has nothing to compare
    assert all(math.isnan(h) for h in court["haywire_index"].to_pylist())
    shares = [gate[f"grade_share:{g}"].to_pylist()[-1] for g in ("PRIME", "BOARDING", "GROUNDED")]
    assert sum(shares) == pytest.approx(1.0)
    assert shares != [0.0, 0.0, 1.0]  # ratings moved people off the prior


def test_peer_scoring_in_the_lab_matches_the_engine(tmp_path: Path) -> None:
    """Ratings from the simulated society scored by the lab's scorer and by ``score_table``."""
    experiment, _ = _experiment(tmp_path, PEER)
    world = build_world(experiment, load_catalog(), 0)
    pilot = load_scheme(bundled_pilots()["nosedive-gate"]).scheme
    assert pilot.peer is not None
    stand_ins = tuple(world.population.subject_id[: experiment.behaviour.peer_seeds].to_pylist())
    seeded = pilot.peer.model_copy(update={"seeds": stand_ins})  # as the lab's arms do
    scheme = pilot.model_copy(update={"peer": seeded})
    society = Society(world, experiment.behaviour)
    visible = np.full(world.population.size, 4.3)
    for t in range(4):
        society.step(t, visible)
    as_of = world.as_of(3)
    ratings = society.records(3, 30)
    assert ratings.num_rows > 0
    section = scheme.peer
    assert section is not None
    peer = compute_peer_scores(
        section, graph_from_table(section, ratings, scheme.subject_kinds, as_of)
    )
    ours = StepScorer(scheme).score(ratings, world.subjects, as_of, peer.table())
    engine = score_table(scheme, ratings, as_of, world.subjects)
    ours, engine = ours.sort_by("subject_id"), engine.sort_by("subject_id")
    for column in ("subject_id", "grade", "lists", "measures"):
        assert ours[column].equals(engine[column]), column
    assert np.allclose(ours["score"].to_numpy(), engine["score"].to_numpy())
