"""Sweeps: one scheme varied over a grid of parameters, and the variants ranked by an objective.

Each point of the grid is a scheme of its own (its own version hash) and runs as an arm beside
the others. The ranking reads each variant's summary (the mean of a metric over the final
``summary_months``): variants that meet every constraint come first, ordered by the objective;
then the others, by how many constraints they meet.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xinyong.lab.experiment import ExperimentError, Sweep, setting, variant_of
from xinyong.schemes.load import LoadedScheme

__all__ = [
    "METRICS",
    "METRIC_PREFIXES",
    "Ranked",
    "check_metric_names",
    "rank_variants",
    "sweep_variants",
]

METRICS = frozenset(
    {
        "scored", "listed", "listed_per_1000", "inflow", "outflow", "sanctions_per_1000",
        "wrongful_listings", "wrongful_listing_rate", "time_to_clear_days", "violations",
        "control_violations", "deterrence", "gini", "churn", "disparate_impact",
        "haywire_index", "red_listed_per_1000", "gate_denial_rate", "wrongful_gate_denials",
        "wrongful_denials_per_1000",
        "wrongful_gate_denial_count", "cascade_size", "time_to_recover_days",
        "missed_misconduct", "wrongful_denial_impact", "discounted_retaliation",
        "discounted_collusion", "discounted_newcomer", "target_score", "target_gate",
        "target_shift",
    }
)  # fmt: skip
"""The metrics every arm reports (``docs/lab.md``)."""
METRIC_PREFIXES = (
    "grade_share:",
    "list_size:",
    "list_inflow:",
    "list_outflow:",
    "disparate_impact:",
    "wrongful_denial_impact:",
)
"""Metrics named after a scheme's grades and lists, or a group dimension."""


def check_metric_names(sweep: Sweep) -> None:
    """Refuse an objective or constraint naming no metric, before anything runs."""
    for name in (sweep.maximize or sweep.minimize or "", *(c.metric for c in sweep.constraints)):
        if name not in METRICS and not name.startswith(METRIC_PREFIXES):
            known = ", ".join(sorted(METRICS))
            raise ExperimentError(f"sweep: no metric {name!r} (metrics: {known})")


def sweep_variants(base: LoadedScheme, sweep: Sweep) -> list[tuple[str, LoadedScheme]]:
    """Every point of the grid as ``(label, scheme)``; the label lists the chosen values."""
    data = base.scheme.model_dump(mode="python")
    rules = {rule["id"]: rule for rule in data["rules"]}
    grades = {grade["name"]: grade for grade in data["grades"]}
    for parameter in sweep.parameters:
        if parameter.rule is not None and parameter.rule not in rules:
            raise ExperimentError(f"sweep: scheme {base.scheme.id} has no rule {parameter.rule!r}")
        if parameter.grade is not None and parameter.grade not in grades:
            raise ExperimentError(
                f"sweep: scheme {base.scheme.id} has no grade {parameter.grade!r}"
            )
        if parameter.peer is not None:
            setting(data, base.scheme.id, f"peer.{parameter.peer}")
    variants = []
    for values in itertools.product(*(p.values for p in sweep.parameters)):
        point = base.scheme.model_dump(mode="python")
        for parameter, value in zip(sweep.parameters, values, strict=True):
            if parameter.peer is not None:
                target, key = setting(point, base.scheme.id, f"peer.{parameter.peer}")
                target[key] = value
                continue
            if parameter.rule is not None:
                target = next(r for r in point["rules"] if r["id"] == parameter.rule)
            else:
                target = next(g for g in point["grades"] if g["name"] == parameter.grade)
            assert parameter.field is not None
            target[parameter.field] = value
        label = ", ".join(f"{p.label}={v}" for p, v in zip(sweep.parameters, values, strict=True))
        try:
            variants.append((label, variant_of(point, base.scheme.id, f"the point {values}")))
        except ExperimentError as exc:
            raise ExperimentError(f"sweep: {exc}") from None
    return variants


@dataclass(frozen=True, slots=True)
class Ranked:
    """A variant's place in the ranking."""

    rank: int
    label: str
    objective: float
    feasible: bool
    failed: tuple[str, ...]
    """The constraints it does not meet."""


def rank_variants(sweep: Sweep, summaries: Mapping[str, Mapping[str, Any]]) -> list[Ranked]:
    """Rank variants by ``summaries[label][metric]`` (their summary metrics)."""
    metric = sweep.maximize or sweep.minimize or ""
    sign = -1.0 if sweep.maximize else 1.0
    rows = []
    for label, summary in summaries.items():
        for name in (metric, *(c.metric for c in sweep.constraints)):
            if name not in summary:
                raise ExperimentError(f"sweep: no metric {name!r} (have: {', '.join(summary)})")
        failed = tuple(
            str(c) for c in sweep.constraints if not c.holds(float(summary.get(c.metric, math.nan)))
        )
        objective = float(summary[metric])
        rows.append((label, objective, failed))
    rows.sort(
        key=lambda r: (
            len(r[2]),
            math.inf if math.isnan(r[1]) else sign * r[1],
            r[0],
        )
    )
    return [
        Ranked(rank, label, objective, not failed, failed)
        for rank, (label, objective, failed) in enumerate(rows, start=1)
    ]
