"""The lab's outputs: a self-contained HTML report and the metrics as CSV and Parquet.

The report opens without a network: plots are inline SVG drawn by Matplotlib, styles are inline,
nothing is fetched. It shows the schemes side by side over time (one line per arm, the mean over
replicates), the summary table, the sweep ranking when there is one, the behaviour parameters
with their basis, the experiment file and the seeds.
"""

from __future__ import annotations

import html
import io
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to files only

import matplotlib.pyplot as plt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xinyong.fonts import use_cjk_font
from xinyong.lab.behaviour import PARAMETERS
from xinyong.lab.runner import LabResult

__all__ = ["GLOSSARY", "PLOTTED", "SUMMARY_COLUMNS", "write_outputs"]

PLOTTED = (
    ("listed_per_1000", "Black-listed per 1,000 scored"),
    ("sanctions_per_1000", "Sanctions in force per 1,000"),
    ("deterrence", "Deterrence (1 - violations / no-scheme violations)"),
    ("wrongful_listing_rate", "Wrongful listing rate (share of the listed)"),
    ("disparate_impact", "Disparate impact (lowest / highest group listing rate)"),
    ("gini", "Gini of scores"),
    ("churn", "Grade churn (share changing grade per step)"),
    ("inflow", "Inflow to black lists per step"),
)
"""Metrics plotted over time, with their titles."""

SUMMARY_COLUMNS = (
    "listed_per_1000",
    "sanctions_per_1000",
    "deterrence",
    "wrongful_listing_rate",
    "time_to_clear_days",
    "disparate_impact",
    "gini",
    "churn",
    "haywire_index",
)

GLOSSARY: dict[str, tuple[str, str]] = {
    "listed_per_1000": ("subjects on any black list per 1,000 scored", "neither: a policy choice"),
    "sanctions_per_1000": (
        "sanction measures in force (subject x measure) per 1,000 scored",
        "neither: a policy choice",
    ),
    "deterrence": ("1 - adverse acts / adverse acts with no scheme", "higher"),
    "wrongful_listing_rate": (
        "share of the listed who are listed only because of erroneous records",
        "lower",
    ),
    "time_to_clear_days": ("mean days from a wrongful listing to its end", "lower"),
    "disparate_impact": (
        "lowest group listing rate / highest (below 0.8 fails the four-fifths rule)",
        "closer to 1",
    ),
    "gini": ("inequality of scores (0: all equal, 1: one subject has all)", "neither"),
    "churn": ("share of scored subjects whose grade changed since the previous step", "lower"),
    "haywire_index": (
        "peer schemes: share whose score fell sharply through others' ratings alone",
        "lower",
    ),
}
"""What each summary column means and which direction is better (docs/lab.md, Metrics)."""


def write_outputs(result: LabResult, experiment_text: str, out: Path) -> dict[str, Path]:
    """Write ``report.html``, ``metrics.csv``, ``metrics.parquet`` and ``summary.csv`` into
    ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "report": out / "report.html",
        "csv": out / "metrics.csv",
        "parquet": out / "metrics.parquet",
        "summary": out / "summary.csv",
    }
    metrics = result.metrics
    pq.write_table(metrics, paths["parquet"])
    pacsv.write_csv(metrics, paths["csv"])
    pacsv.write_csv(_summary_table(result), paths["summary"])
    paths["report"].write_text(_html(result, experiment_text), encoding="utf-8")
    return paths


def _summary_table(result: LabResult) -> pa.Table:
    rows = [{"arm": arm, **values} for arm, values in result.summary.items()]
    return pa.Table.from_pylist(rows)


def _series(metrics: pa.Table, metric: str) -> dict[str, tuple[list[Any], list[float]]]:
    """Per arm: dates and the metric averaged over replicates."""
    if metric not in metrics.column_names:
        return {}
    grouped = (
        metrics.select(["arm", "as_of", metric])
        .group_by(["arm", "as_of"])
        .aggregate([(metric, "mean")])
        .sort_by([("arm", "ascending"), ("as_of", "ascending")])
    )
    series: dict[str, tuple[list[Any], list[float]]] = {}
    for arm in pc.unique(grouped["arm"]).to_pylist():
        part = grouped.filter(pc.equal(grouped["arm"], arm))
        values = [math.nan if v is None else float(v) for v in part[f"{metric}_mean"].to_pylist()]
        series[str(arm)] = (part["as_of"].to_pylist(), values)
    return series


def _plot(metrics: pa.Table, metric: str, title: str) -> str:
    """One metric over time, one line per arm, as inline SVG."""
    use_cjk_font()  # arms and titles may be Chinese
    figure, axes = plt.subplots(figsize=(10, 3.8), dpi=100)
    try:
        for arm, (dates, values) in _series(metrics, metric).items():
            axes.plot(dates, values, label=arm, linewidth=1.6)
        axes.set_title(title, fontsize=11)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        figure.autofmt_xdate()
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    finally:
        plt.close(figure)
    svg = buffer.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:,.4g}"
    return html.escape(str(value))


def _html(result: LabResult, experiment_text: str) -> str:
    experiment = result.experiment
    arms = list(result.summary)
    columns = SUMMARY_COLUMNS
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr><th scope='row'>"
        + html.escape(arm)
        + "</th>"
        + "".join(
            f"<td>{_cell(result.summary[arm].get(c, math.nan))}</td>" for c in SUMMARY_COLUMNS
        )
        + "</tr>"
        for arm in arms
    )
    ranking = ""
    if result.ranking and experiment.sweep is not None:
        sweep = experiment.sweep
        objective = (
            f"{'maximize' if sweep.maximize else 'minimize'} {sweep.maximize or sweep.minimize}"
        )
        constraints = "; ".join(str(c) for c in sweep.constraints) or "none"
        rows = "".join(
            f"<tr><td>{r.rank}</td><td>{html.escape(r.label)}</td><td>{_cell(r.objective)}</td>"
            f"<td>{'yes' if r.feasible else 'no: ' + html.escape(', '.join(r.failed))}</td></tr>"
            for r in result.ranking
        )
        ranking = (
            f"<h2>Sweep ranking</h2><p>Objective: {html.escape(objective)}. "
            f"Constraints: {html.escape(constraints)}.</p>"
            "<table><thead><tr><th scope='col'>rank</th><th scope='col'>variant</th>"
            "<th scope='col'>objective</th><th scope='col'>meets constraints</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    plots = "".join(
        f"<figure>{_plot(result.metrics, metric, title)}</figure>" for metric, title in PLOTTED
    )
    parameters = "".join(
        f"<tr><td><code>{p.name}</code></td><td>{_cell(getattr(experiment.behaviour, p.name))}</td>"
        f"<td>{html.escape(p.meaning)}</td><td>{html.escape(p.basis)}</td></tr>"
        for p in PARAMETERS
    )
    glossary = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(meaning)}</td>"
        f"<td>{html.escape(better)}</td></tr>"
        for name, (meaning, better) in GLOSSARY.items()
    )
    seeds = ", ".join(f"[{experiment.seed}, {r}]" for r in range(experiment.replicates))
    timings = ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(experiment.name)} — xinyong lab report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #bbb; padding: 0.3rem 0.5rem; text-align: right; }}
th[scope=row], td:first-child {{ text-align: left; }}
details td {{ text-align: left; }}
figure {{ margin: 1rem 0; }} svg {{ max-width: 100%; height: auto; }}
.wide {{ overflow-x: auto; }}
pre {{ background: #f4f4f4; padding: 1rem; overflow-x: auto; }}
</style></head><body>
<h1>{html.escape(experiment.name)}</h1>
<p>{html.escape(experiment.description)}</p>
<p>{experiment.population.people:,} people and {experiment.population.organizations:,}
organizations, {experiment.years} years from {experiment.start} in steps of
{html.escape(experiment.step)}, {experiment.replicates} replicate(s), seeds {seeds}.
Arms: {html.escape(", ".join(arms))}. Time: {html.escape(timings)} s.</p>
<h2>Summary</h2>
<p>Each value is the mean over the final {experiment.summary_months} months and the replicates.</p>
<div class="wide" tabindex="0" role="region" aria-label="Summary (scrolls sideways)">
<table><thead><tr><th scope="col">arm</th>{head}</tr></thead>
<tbody>{body}</tbody></table></div>
<details open><summary>What the columns mean</summary>
<table><thead><tr><th scope="col">column</th><th scope="col">meaning</th>
<th scope="col">better</th></tr></thead><tbody>{glossary}</tbody></table></details>
{ranking}
<h2>Over time</h2>
{plots}
<h2>Behaviour model</h2>
<table><thead><tr><th scope="col">parameter</th><th scope="col">value</th>
<th scope="col">meaning</th><th scope="col">basis</th></tr></thead>
<tbody>{parameters}</tbody></table>
<h2>Experiment file</h2>
<pre>{html.escape(experiment_text)}</pre>
</body></html>
"""
