"""Running an experiment: every replicate's world, every arm, every step; metrics out.

The same experiment file and seed give the same metrics, value for value: the world of
replicate ``r`` is drawn from ``seed`` and ``r`` only, and the arms' later draws (objections,
repairs) are functions of the world's key, the step and the subject or record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.lab.arm import Arm
from xinyong.lab.experiment import Experiment, resolve_scheme
from xinyong.lab.sweep import Ranked, check_metric_names, rank_variants, sweep_variants
from xinyong.lab.world import build_world
from xinyong.schemes.load import LoadedScheme

__all__ = ["LabResult", "Progress", "arms_of", "metrics_table", "run_experiment", "summarize"]

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: called after every arm's step; ``done`` and ``total`` count
arm-steps over the whole run (every replicate), so that an ETA can be drawn from them."""


@dataclass(slots=True)
class LabResult:
    """What a run produced."""

    experiment: Experiment
    metrics: pa.Table
    """One row per replicate, arm and step."""
    summary: dict[str, dict[str, Any]]
    """Per arm: each numeric metric averaged over the final ``summary_months`` and replicates."""
    ranking: list[Ranked] = field(default_factory=list)
    """For a sweep: the variants, best first."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent simulating (drawing worlds and deciding acts) and scoring."""


def arms_of(experiment: Experiment, base: Path) -> list[tuple[str, LoadedScheme]]:
    """The arms: each listed scheme, then each point of the sweep."""
    arms = []
    for ref in experiment.schemes:
        loaded = resolve_scheme(ref, base)
        arms.append((ref.label or loaded.scheme.id, loaded))
    if experiment.sweep is not None:
        check_metric_names(experiment.sweep)
        arms.extend(sweep_variants(resolve_scheme(experiment.sweep.scheme, base), experiment.sweep))
    labels = [label for label, _ in arms]
    duplicate = next((x for x in labels if labels.count(x) > 1), None)
    if duplicate is not None:
        raise ValueError(f"two arms are named {duplicate!r}: give one of them a label")
    return arms


def run_experiment(
    experiment: Experiment,
    base: Path,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
) -> LabResult:
    """Run every replicate and arm; ``base`` is the directory scheme files are relative to."""
    catalog = catalog or load_catalog()
    arms = arms_of(experiment, base)
    rows: list[dict[str, Any]] = []
    timings = {"simulation_s": 0.0, "scoring_s": 0.0}
    for replicate in range(experiment.replicates):
        mark = time.perf_counter()
        world = build_world(experiment, catalog, replicate)
        timings["simulation_s"] += time.perf_counter() - mark
        runs = [
            Arm(
                label,
                loaded,
                world,
                experiment.behaviour,
                experiment.groups,
            )
            for label, loaded in arms
        ]
        total = experiment.replicates * world.steps * len(runs)
        before = replicate * world.steps * len(runs)
        phase = f"replicate {replicate + 1}/{experiment.replicates}: {len(runs)} arms x steps"
        for t in range(world.steps):
            for position, arm in enumerate(runs):
                row = arm.step(t)
                timings["simulation_s"] += arm.last_timings["simulation_s"]
                timings["scoring_s"] += arm.last_timings["scoring_s"]
                rows.append({"replicate": replicate, **row})
                if progress is not None:
                    progress(phase, before + t * len(runs) + position + 1, total)
    metrics = metrics_table(rows)
    summary = summarize(metrics, experiment)
    ranking = []
    if experiment.sweep is not None:
        variants = {
            label
            for label, _ in sweep_variants(
                resolve_scheme(experiment.sweep.scheme, base), experiment.sweep
            )
        }
        ranking = rank_variants(
            experiment.sweep, {k: v for k, v in summary.items() if k in variants}
        )
    return LabResult(experiment, metrics, summary, ranking, timings)


def metrics_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a table with every column any row has (arms name their grades and lists
    differently; a row without a column gets null there)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pa.Table.from_pylist([{name: row.get(name) for name in columns} for row in rows])


def summarize(metrics: pa.Table, experiment: Experiment) -> dict[str, dict[str, Any]]:
    """Per arm: numeric metrics averaged over the final ``summary_months`` steps and replicates
    (NaN values left out; a metric that is NaN throughout stays NaN)."""
    months = experiment.summary_months
    last_steps = max(1, round(months * 30.4375 / experiment.step_days))
    data = metrics.to_pylist()
    final_step = max((r["step"] for r in data), default=0)
    summary: dict[str, dict[str, Any]] = {}
    for row in data:
        if row["step"] <= final_step - last_steps:
            continue
        arm = summary.setdefault(row["arm"], {"_n": {}})
        for key, value in row.items():
            if key in {"replicate", "step"} or isinstance(value, bool | str) or value is None:
                continue
            if not isinstance(value, int | float):
                continue
            if isinstance(value, float) and math.isnan(value):
                arm.setdefault(key, math.nan)
                continue
            count = arm["_n"].get(key, 0)
            previous = arm.get(key, 0.0)
            previous = 0.0 if isinstance(previous, float) and math.isnan(previous) else previous
            arm[key] = (previous * count + value) / (count + 1)
            arm["_n"][key] = count + 1
    for arm in summary.values():
        del arm["_n"]
    return summary
