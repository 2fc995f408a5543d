"""The lab's outputs: a self-contained HTML report and the metrics as CSV and Parquet.

The report opens without a network: plots are inline SVG drawn by Matplotlib, styles are inline,
nothing is fetched. It shows the schemes side by side over time (one line per arm, the mean over
replicates), the summary table, the sweep ranking when there is one, the behaviour parameters
with their basis, the experiment file and the seeds.

It is written in English or Simplified Chinese (``language``, :data:`xinyong.i18n.LANGUAGES`;
the Chinese is in ``locale/zh_Hans/LC_MESSAGES/lab.po``). What the experiment file says (its
name, description, arm labels) and the metric identifiers (the columns of ``metrics.csv``,
compared across versions) are data and stay as written; the glossary says what each means. The
SVG plots draw their text as paths and the page embeds the bundled font for its Chinese, so a
Chinese report reads the same on a machine without any CJK font.
"""

from __future__ import annotations

import html
import io
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")  # no display: render to files only

import matplotlib.pyplot as plt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from babel import Locale
from babel.numbers import format_decimal

from xinyong.fonts import CJK_FAMILY, font_face_css, use_cjk_font
from xinyong.i18n import DEFAULT, N_, gettext_for, local_date, local_number
from xinyong.lab.behaviour import PARAMETERS
from xinyong.lab.experiment import Experiment, Sweep
from xinyong.lab.runner import LabResult
from xinyong.lab.sweep import Ranked

__all__ = ["GLOSSARY", "HTML_LANG", "PLOTTED", "SUMMARY_COLUMNS", "write_outputs"]

HTML_LANG: Final = {"en": "en", "zh": "zh-Hans"}
"""The report's ``<html lang>`` by language; its numbers follow the same locale."""

PLOTTED = (
    ("listed_per_1000", N_("Black-listed per 1,000 scored")),
    ("sanctions_per_1000", N_("Sanctions in force per 1,000")),
    ("deterrence", N_("Deterrence (1 - violations / no-scheme violations)")),
    ("wrongful_listing_rate", N_("Wrongful listing rate (share of the listed)")),
    ("disparate_impact", N_("Disparate impact (lowest / highest group listing rate)")),
    ("gini", N_("Gini of scores")),
    ("churn", N_("Grade churn (share changing grade per step)")),
    ("inflow", N_("Inflow to black lists per step")),
)
"""Metrics plotted over time, with their titles (in English: translated where drawn)."""

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

_POLICY_CHOICE = N_("neither: a policy choice")
GLOSSARY: dict[str, tuple[str, str]] = {
    "listed_per_1000": (N_("subjects on any black list per 1,000 scored"), _POLICY_CHOICE),
    "sanctions_per_1000": (
        N_("sanction measures in force (subject x measure) per 1,000 scored"),
        _POLICY_CHOICE,
    ),
    "deterrence": (N_("1 - adverse acts / adverse acts with no scheme"), N_("higher")),
    "wrongful_listing_rate": (
        N_("share of the listed who are listed only because of erroneous records"),
        N_("lower"),
    ),
    "time_to_clear_days": (N_("mean days from a wrongful listing to its end"), N_("lower")),
    "disparate_impact": (
        N_("lowest group listing rate / highest (below 0.8 fails the four-fifths rule)"),
        N_("closer to 1"),
    ),
    "gini": (N_("inequality of scores (0: all equal, 1: one subject has all)"), N_("neither")),
    "churn": (
        N_("share of scored subjects whose grade changed since the previous step"),
        N_("lower"),
    ),
    "haywire_index": (
        N_("peer schemes: share whose score fell sharply through others' ratings alone"),
        N_("lower"),
    ),
}
"""What each summary column means and which direction is better (docs/lab.md, Metrics), in
English: translated where shown."""


def write_outputs(
    result: LabResult, experiment_text: str, out: Path, language: str = DEFAULT
) -> dict[str, Path]:
    """Write ``report.html`` (in ``language``), ``metrics.csv``, ``metrics.parquet`` and
    ``summary.csv`` into ``out``; return their paths."""
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
    paths["report"].write_text(_html(result, experiment_text, language), encoding="utf-8")
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


def _plot(metrics: pa.Table, metric: str, title: str, language: str) -> str:
    """One metric over time, one line per arm, as inline SVG whose text is drawn as paths: the
    Chinese of a title or an arm needs no font where the report is opened."""
    _ = gettext_for(language)
    use_cjk_font()
    with plt.rc_context({"svg.fonttype": "path"}):
        figure, axes = plt.subplots(figsize=(10, 3.8), dpi=100)
        try:
            for arm, (dates, values) in _series(metrics, metric).items():
                axes.plot(dates, values, label=arm, linewidth=1.6)
            axes.set_title(title, fontsize=11)
            axes.set_xlabel(_("date"), fontsize=9)
            axes.grid(alpha=0.3)
            axes.legend(
                title=_("arm"),
                fontsize=8,
                title_fontsize=8,
                loc="center left",
                bbox_to_anchor=(1.01, 0.5),
                frameon=False,
            )
            figure.autofmt_xdate()
            figure.tight_layout()
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg")
        finally:
            plt.close(figure)
    svg = buffer.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _number(value: float, language: str, digits: str = ".4g") -> str:
    """A number as the report writes it: ``digits`` (Python's format spec) decides the
    precision, ``language`` the separators; NaN (no value) as a dash."""
    if math.isnan(value):
        return "–"
    locale = Locale.parse(HTML_LANG[language], sep="-")
    return format_decimal(Decimal(format(value, digits)), locale=locale, decimal_quantization=False)


def _html(result: LabResult, experiment_text: str, language: str) -> str:
    """The whole page; every text people read is translated, the data shown as written."""
    _ = gettext_for(language)
    experiment = result.experiment
    title = _("%(experiment)s — xinyong lab report") % {"experiment": experiment.name}
    body = "\n".join(
        (
            f"<h1>{html.escape(experiment.name)}</h1>",
            f"<p>{html.escape(experiment.description)}</p>",
            _introduction(result, language),
            _summary_section(result, language),
            _glossary(language),
            _ranking(result, language),
            _h2(_("Over time")),
            *(
                f"<figure role='img' aria-label='{html.escape(_(name))}'>"
                f"{_plot(result.metrics, metric, _(name), language)}</figure>"
                for metric, name in PLOTTED
            ),
            _behaviour(experiment, language),
            _h2(_("Experiment file")),
            f"<pre>{html.escape(experiment_text)}</pre>",
        )
    )
    return f"""<!doctype html>
<html lang="{HTML_LANG[language]}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
{font_face_css(title + body)}
body {{ font-family: "{CJK_FAMILY}", system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }}
pre, code {{ font-family: "{CJK_FAMILY}", ui-monospace, Menlo, Consolas, monospace; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #bbb; padding: 0.3rem 0.5rem; text-align: right; }}
th[scope=row], td:first-child {{ text-align: left; }}
details th, details td, td.text {{ text-align: left; }}
figure {{ margin: 1rem 0; }} svg {{ max-width: 100%; height: auto; }}
.wide {{ overflow-x: auto; }}
pre {{ background: #f4f4f4; padding: 1rem; overflow-x: auto; }}
</style></head><body>
{body}
</body></html>
"""


def _introduction(result: LabResult, language: str) -> str:
    """Who was simulated, for how long, with which seeds and arms, and the time it took."""
    _ = gettext_for(language)
    experiment = result.experiment
    population = experiment.population
    seeds = ", ".join(f"[{experiment.seed}, {r}]" for r in range(experiment.replicates))
    sentence = _(
        "%(people)s people and %(organizations)s organizations, %(years)s years from "
        "%(start)s in steps of %(step)s (%(days)s days), %(replicates)s replicate(s), "
        "seeds %(seeds)s."
    ) % {
        "people": local_number(population.people, language),
        "organizations": local_number(population.organizations, language),
        "years": local_number(experiment.years, language),
        "start": local_date(experiment.start, language),
        "step": experiment.step,
        "days": local_number(experiment.step_days, language),
        "replicates": local_number(experiment.replicates, language),
        "seeds": seeds,
    }
    arms = _("Arms: %(arms)s.") % {"arms": _(", ").join(result.summary)}
    seconds = _("Time: simulation %(simulation)s s, scoring %(scoring)s s.") % {
        phase: _number(result.timings.get(f"{phase}_s", math.nan), language, ".1f")
        for phase in ("simulation", "scoring")
    }
    return f"<p>{html.escape(_run_on(sentence, arms, seconds))}</p>"


def _run_on(*sentences: str) -> str:
    """Sentences one after another: a space after an English one, none after a Chinese one
    (its full stop, 。, is as wide as a character)."""
    return "".join(s if s.endswith("。") else s + " " for s in sentences).rstrip()


def _summary_section(result: LabResult, language: str) -> str:
    """Per arm, each summary column: the metric's mean over the final months and replicates."""
    _ = gettext_for(language)
    rows = "".join(
        f"<tr><th scope='row'>{html.escape(arm)}</th>"
        + "".join(f"<td>{_number(values.get(c, math.nan), language)}</td>" for c in SUMMARY_COLUMNS)
        + "</tr>"
        for arm, values in result.summary.items()
    )
    months = local_number(result.experiment.summary_months, language)
    note = _(
        "Each value is the mean over the final %(months)s months and the replicates. The "
        "columns are named as in metrics.csv; the table below says what each means."
    ) % {"months": months}
    scrolls = html.escape(_("Summary (scrolls sideways)"))
    head = _head(_("arm"), *SUMMARY_COLUMNS)
    return (
        _h2(_("Summary"))
        + f"\n<p>{html.escape(note)}</p>\n"
        + f'<div class="wide" tabindex="0" role="region" aria-label="{scrolls}">\n'
        + f"<table>{head}\n<tbody>{rows}</tbody></table></div>"
    )


def _glossary(language: str) -> str:
    """What each summary column means and which direction is better."""
    _ = gettext_for(language)
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(_(meaning))}</td>"
        f"<td>{html.escape(_(better))}</td></tr>"
        for name, (meaning, better) in GLOSSARY.items()
    )
    summary = html.escape(_("What the columns mean"))
    head = _head(_("column"), _("meaning"), _("better"))
    return (
        f"<details open><summary>{summary}</summary>\n"
        f"<table>{head}<tbody>{rows}</tbody></table></details>"
    )


def _ranking(result: LabResult, language: str) -> str:
    """A sweep's variants, best first, with the constraints each fails ("" without a sweep)."""
    sweep = result.experiment.sweep
    if not result.ranking or sweep is None:
        return ""
    _ = gettext_for(language)
    rows = "".join(
        f"<tr><td>{local_number(r.rank, language)}</td><td>{html.escape(r.label)}</td>"
        f"<td>{_number(r.objective, language)}</td>"
        f"<td>{html.escape(_verdict(r, language))}</td></tr>"
        for r in result.ranking
    )
    terms = _("Objective: %(objective)s. Constraints: %(constraints)s.") % {
        "objective": _objective(sweep, language),
        "constraints": "; ".join(str(c) for c in sweep.constraints) or _("none"),
    }
    head = _head(_("rank"), _("variant"), _("objective"), _("meets constraints"))
    return (
        _h2(_("Sweep ranking"))
        + f"<p>{html.escape(terms)}</p><table>{head}<tbody>{rows}</tbody></table>"
    )


def _objective(sweep: Sweep, language: str) -> str:
    _ = gettext_for(language)
    if sweep.maximize:
        return _("maximize %(metric)s") % {"metric": sweep.maximize}
    return _("minimize %(metric)s") % {"metric": sweep.minimize}


def _verdict(ranked: Ranked, language: str) -> str:
    """Whether a variant meets the constraints, and if not, which it fails."""
    _ = gettext_for(language)
    if ranked.feasible:
        return _("yes")
    return _("no: %(failed)s") % {"failed": _(", ").join(ranked.failed)}


def _behaviour(experiment: Experiment, language: str) -> str:
    """The behaviour parameters of the run, with what each means and what its value rests on."""
    _ = gettext_for(language)
    rows = "".join(
        f"<tr><td><code>{p.name}</code></td>"
        f"<td>{_number(getattr(experiment.behaviour, p.name), language)}</td>"
        f"<td class='text'>{html.escape(_(p.meaning))}</td>"
        f"<td class='text'>{html.escape(_(p.basis))}</td></tr>"
        for p in PARAMETERS
    )
    head = _head(_("parameter"), _("value"), _("meaning"), _("basis"))
    return _h2(_("Behaviour model")) + f"\n<table>{head}\n<tbody>{rows}</tbody></table>"


def _h2(heading: str) -> str:
    return f"<h2>{html.escape(heading)}</h2>"


def _head(*labels: str) -> str:
    """A table's header row."""
    cells = "".join(f'<th scope="col">{html.escape(label)}</th>' for label in labels)
    return f"<thead><tr>{cells}</tr></thead>"
