"""Lab benchmark: how long experiments take, split between simulation and scoring.

Two runs, as the issue states them:

* **five schemes**: 100,000 people (and 5,000 organizations), 5 years by month, the five bundled
  pilots (goal: under 2 minutes);
* **one scheme at scale**: 1,000,000 people, 5 years by month, the Rongcheng pilot (goal: under
  10 minutes);
* **peer town**: 100,000 people in circles of friends, 52 weekly steps, two peer arms (the show's
  mechanism and the nosedive-gate pilot), with every behaviour of the social model on
  (retaliation, collusion rings, a sybil swarm, status-seeking, bad days) and each arm's
  counterfactual run beside it (goal: under 5 minutes). Its baseline, in the same process: the
  final step's rating graph built the engine's way (records converted row by row,
  :func:`~xinyong.peer.graph.graph_from_table`) against the lab's (from the society's arrays),
  which give the same graph.

Each run reports wall time and the split between simulation (drawing the world, deciding acts,
objections, repairs, metrics) and scoring (DuckDB executing the compiled schemes). As a baseline in
the same process, the final step of the first run is also scored the way ``xinyong score`` does
(``score_table``: compile the scheme, then execute) and the ratio to the lab's compile-once scorer
is printed.

Run as ``python bench/lab.py`` (``--help`` for options; ``--json`` for machine output).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchkit import Timing, load_average, machine, timed
from xinyong.domain.catalog import load_catalog
from xinyong.engines.duckdb import score_table
from xinyong.engines.step_scorer import StepScorer
from xinyong.lab.arm import Arm
from xinyong.lab.experiment import load_experiment, resolve_scheme
from xinyong.lab.runner import run_experiment
from xinyong.lab.world import build_world
from xinyong.peer.graph import graph_from_table
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme

PILOTS = ("rongcheng", "judgment-defaulters", "tax-credit", "xiamen-egret", "fuzhou-jasmine")
GOALS = {"five_schemes": 120.0, "one_scheme_at_scale": 600.0, "peer_town": 300.0}

TOWN = """name = "bench town {people}"
seed = 1
start = 2024-01-01
years = 1
step = "1w"
gate = "board-flight"
[population]
people = {people}
[behaviour]
interactions_per_month = 20
herding = 0.5
stigma_penalty = 0.5
quality_mean = 4.7
quality_sd = 0.3
rating_noise = 0.6
bad_day_rate = 0.05
retaliation_rate = 0.3
status_line = 3.5
status_avoidance = 0.3
collusion_rings = {rings}
sybils = 30
[[schemes]]
pilot = "nosedive-gate"
[[schemes]]
pilot = "nosedive-gate"
label = "the show"
changes = {{ "peer.algorithm" = "nosedive", "peer.seeds" = [] }}
"""


def _experiment(people: int, organizations: int, pilots: tuple[str, ...], workdir: Path) -> Path:
    schemes = "".join(f'[[schemes]]\npilot = "{p}"\n' for p in pilots)
    path = workdir / f"bench-{people}-{len(pilots)}.toml"
    path.write_text(
        f'name = "bench {people} x {len(pilots)}"\nseed = 1\nstart = 2021-01-01\nyears = 5\n'
        f'step = "1m"\n[population]\npeople = {people}\norganizations = {organizations}\n'
        + schemes,
        encoding="utf-8",
    )
    return path


def _run(path: Path) -> dict[str, Any]:
    experiment = load_experiment(path)
    wall, result = timed(lambda: run_experiment(experiment, path.parent))
    return {
        "people": experiment.population.people,
        "schemes": len(experiment.schemes),
        "steps": int(result.metrics.num_rows / max(len(experiment.schemes), 1)),
        "wall_s": round(wall, 1),
        "simulation_s": round(result.timings["simulation_s"], 1),
        "scoring_s": round(result.timings["scoring_s"], 1),
    }


def _baseline(path: Path, repeat: int) -> dict[str, Any]:
    """The final step scored by ``score_table`` (compile + execute) and by the lab's scorer."""
    experiment = load_experiment(path)
    world = build_world(experiment, load_catalog(), 0)
    step = world.steps - 1
    records = world.records.filter(pa.array(world.step <= step))
    as_of = world.as_of(step)
    scheme = load_scheme(bundled_pilots()["rongcheng"]).scheme
    scorer = StepScorer(scheme)
    engine, lab = Timing(), Timing()
    for _ in range(repeat):
        engine.add(lambda: score_table(scheme, records, as_of, world.subjects))
        lab.add(lambda: scorer.score(records, world.subjects, as_of))
    return {
        "records": records.num_rows,
        "score_table_median_s": round(engine.median, 3),
        "step_scorer_median_s": round(lab.median, 3),
        "ratio": round(engine.median / lab.median, 2),
    }


def _town(people: int, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The peer town's run, and the graph baseline at its final step."""
    path = workdir / f"town-{people}.toml"
    path.write_text(TOWN.format(people=people, rings=max(1, people // 2000)), encoding="utf-8")
    experiment = load_experiment(path)
    wall, result = timed(lambda: run_experiment(experiment, path.parent))
    run = {
        "people": people,
        "arms": len(experiment.schemes),
        "steps": int(result.metrics.num_rows / len(experiment.schemes)),
        "counterfactual_runs": len(experiment.schemes),
        "wall_s": round(wall, 1),
        "simulation_s": round(result.timings["simulation_s"], 1),
        "scoring_s": round(result.timings["scoring_s"], 1),
    }
    world = build_world(experiment, load_catalog(), 0)
    loaded = resolve_scheme(experiment.schemes[0], path.parent)
    arm = Arm("pilot", loaded, world, experiment.behaviour, experiment.groups, experiment.gate)
    society = arm.society
    section = arm.loaded.scheme.peer
    assert society is not None
    assert section is not None
    for step in range(5):
        arm.step(step)
    as_of, kinds = world.as_of(4), arm.loaded.scheme.subject_kinds
    fast_s, fast = timed(lambda: society.graph(section, 4, 30, kinds))
    slow_s, slow = timed(lambda: graph_from_table(section, society.records(4, 30), kinds, as_of))
    baseline = {
        "ratings": fast.size,
        "engine_graph_s": round(slow_s, 2),
        "lab_graph_s": round(fast_s, 3),
        "ratio": round(slow_s / fast_s, 1),
        "same_graph": bool(
            list(fast.nodes) == list(slow.nodes)
            and all(
                (getattr(fast, name) == getattr(slow, name)).all()
                for name in ("rater", "rated", "stars", "day", "decay", "first_day")
            )
        ),
    }
    return run, baseline


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="people, five-scheme run")
    parser.add_argument("--big", type=int, default=1_000_000, help="people, one-scheme run")
    parser.add_argument("--skip-big", action="store_true", help="no one-scheme run")
    parser.add_argument("--town", type=int, default=100_000, help="people, peer-town run")
    parser.add_argument("--skip-town", action="store_true", help="no peer-town run")
    parser.add_argument("--only-town", action="store_true", help="only the peer-town run")
    parser.add_argument("--repeat", type=int, default=5, help="baseline repetitions")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine("duckdb", "pyarrow")}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.only_town:
            five = _experiment(args.people, args.people // 20, PILOTS, workdir)
            results["baseline"] = _baseline(five, args.repeat)
            results["five_schemes"] = _run(five)
        if not args.skip_town:
            results["peer_town"], results["peer_town_baseline"] = _town(args.town, workdir)
        if not args.skip_big and not args.only_town:
            big = _experiment(args.big, 0, ("rongcheng",), workdir)
            results["one_scheme_at_scale"] = _run(big)
    results["load_end"] = load_average()
    for name, goal in GOALS.items():
        if name in results:
            results[name]["goal_s"] = goal
            results[name]["met"] = results[name]["wall_s"] < goal
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
