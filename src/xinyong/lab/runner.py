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
from scipy.stats import t as student_t

from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.lab.arm import Arm
from xinyong.lab.experiment import Experiment, ExperimentError, resolve_scheme
from xinyong.lab.sweep import Ranked, check_metric_names, rank_variants, sweep_variants
from xinyong.lab.world import build_world
from xinyong.schemes.load import LoadedScheme

__all__ = [
    "CASCADES_SCHEMA",
    "LabResult",
    "Progress",
    "arms_of",
    "final_means",
    "half_width",
    "metrics_table",
    "run_experiment",
    "run_label",
    "summarize",
]

CASCADES_SCHEMA = pa.schema(
    [
        ("replicate", pa.int64()),
        ("society", pa.string()),
        ("arm", pa.string()),
        ("bad_day_step", pa.int64()),
        ("size", pa.int64()),
    ]
)

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
    intervals: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per arm, like ``summary``: the half-width of each metric's 95% interval over replicates."""
    cascades: pa.Table = field(default_factory=CASCADES_SCHEMA.empty_table)
    """Every closed cascade (:mod:`xinyong.lab.cascades`): replicate, society, arm, the step of
    the bad day and the cascade's size."""


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
    if experiment.baseline is not None and experiment.baseline not in labels:
        raise ExperimentError(
            f"baseline: no arm is labelled {experiment.baseline!r} (arms: {', '.join(labels)})"
        )
    gate = experiment.gate
    if gate is not None and not any(any(m.id == gate for m in s.scheme.measures) for _, s in arms):
        raise ExperimentError(f"gate: no arm's scheme has a measure {gate!r}")
    duplicate = next((x for x in labels if labels.count(x) > 1), None)
    if duplicate is not None:
        raise ValueError(f"two arms are named {duplicate!r}: give one of them a label")
    return arms


def run_label(society: str, arm: str) -> str:
    """How the summary and the plots name an arm in a society (the arm alone without
    ``[[societies]]``)."""
    return f"{society} / {arm}" if society else arm


def run_experiment(
    experiment: Experiment,
    base: Path,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
) -> LabResult:
    """Run every replicate, society and arm; ``base`` is the directory scheme files are
    relative to."""
    catalog = catalog or load_catalog()
    arms = arms_of(experiment, base)
    societies = experiment.variants()
    rows: list[dict[str, Any]] = []
    cascades: list[dict[str, Any]] = []
    timings = {"simulation_s": 0.0, "scoring_s": 0.0}
    per_replicate = len(societies) * len(arms)
    for replicate in range(experiment.replicates):
        for position, (society, behaviour) in enumerate(societies):
            mark = time.perf_counter()
            variant = experiment.model_copy(update={"behaviour": behaviour})
            world = build_world(variant, catalog, replicate)
            timings["simulation_s"] += time.perf_counter() - mark
            runs = [
                Arm(label, loaded, world, behaviour, experiment.groups, experiment.gate)
                for label, loaded in arms
            ]
            total = experiment.replicates * world.steps * per_replicate
            before = (replicate * per_replicate + position * len(runs)) * world.steps
            phase = (
                f"replicate {replicate + 1}/{experiment.replicates}"
                + (f", {society}" if society else "")
                + f": {len(runs)} arms x steps"
            )
            for t in range(world.steps):
                for index, arm in enumerate(runs):
                    row = arm.step(t)
                    timings["simulation_s"] += arm.last_timings["simulation_s"]
                    timings["scoring_s"] += arm.last_timings["scoring_s"]
                    rows.append({"replicate": replicate, "society": society, **row})
                    if progress is not None:
                        progress(phase, before + t * len(runs) + index + 1, total)
            for arm in runs:
                if arm.watch is not None:
                    cascades.extend(
                        {
                            "replicate": replicate,
                            "society": society,
                            "arm": arm.label,
                            "bad_day_step": step,
                            "size": size,
                        }
                        for step, size in arm.watch.sizes
                    )
    metrics = metrics_table(rows)
    summary, intervals = summarize(metrics, experiment)
    ranking = []
    if experiment.sweep is not None:
        variants = {
            run_label(society, label)
            for society, _ in societies
            for label, _ in sweep_variants(
                resolve_scheme(experiment.sweep.scheme, base), experiment.sweep
            )
        }
        ranking = rank_variants(
            experiment.sweep, {k: v for k, v in summary.items() if k in variants}
        )
    cascade_table = pa.Table.from_pylist(cascades, schema=CASCADES_SCHEMA)
    return LabResult(experiment, metrics, summary, ranking, timings, intervals, cascade_table)


def metrics_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a table with every column any row has (arms name their grades and lists
    differently; a row without a column gets null there)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pa.Table.from_pylist([{name: row.get(name) for name in columns} for row in rows])


def final_means(
    metrics: pa.Table, experiment: Experiment
) -> dict[str, dict[int, dict[str, float]]]:
    """Per arm (and society) and replicate: each numeric metric averaged over the final
    ``summary_months`` steps (NaN values left out; NaN when there is none)."""
    months = experiment.summary_months
    last_steps = max(1, round(months * 30.4375 / experiment.step_days))
    data = metrics.to_pylist()
    final_step = max((r["step"] for r in data), default=0)
    collected: dict[str, dict[int, dict[str, list[float]]]] = {}
    for row in data:
        if row["step"] <= final_step - last_steps:
            continue
        label = run_label(row.get("society") or "", row["arm"])
        values = collected.setdefault(label, {}).setdefault(row["replicate"], {})
        for key, value in row.items():
            if key in {"replicate", "step"} or isinstance(value, bool | str) or value is None:
                continue
            if isinstance(value, int | float):
                values.setdefault(key, []).append(float(value))
    return {
        label: {
            replicate: {name: _nanmean(series) for name, series in values.items()}
            for replicate, values in replicates.items()
        }
        for label, replicates in collected.items()
    }


def summarize(
    metrics: pa.Table, experiment: Experiment
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """Per arm (and society): each metric of :func:`final_means` averaged over the replicates,
    and the half-width of its 95% confidence interval over them (Student's t; NaN with one
    replicate). A metric that is NaN throughout stays NaN."""
    summary: dict[str, dict[str, Any]] = {}
    intervals: dict[str, dict[str, float]] = {}
    for label, replicates in final_means(metrics, experiment).items():
        names = dict.fromkeys(k for values in replicates.values() for k in values)
        summary[label], intervals[label] = {}, {}
        for name in names:
            known = [
                values[name]
                for values in replicates.values()
                if name in values and not math.isnan(values[name])
            ]
            summary[label][name] = sum(known) / len(known) if known else math.nan
            intervals[label][name] = half_width(known)
    return summary, intervals


def _nanmean(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return sum(known) / len(known) if known else math.nan


def half_width(values: list[float]) -> float:
    """Half the width of the 95% t-interval of the mean of ``values`` (NaN under two)."""
    if len(values) < 2:
        return math.nan
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    quantile = float(student_t.ppf(0.975, len(values) - 1))
    return quantile * math.sqrt(variance / len(values))
