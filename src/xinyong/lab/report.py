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
from xinyong.lab.runner import LabResult, final_means, half_width, run_label
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
    "gate_denial_rate": (N_("share of scored people denied at the gate"), _POLICY_CHOICE),
    "wrongful_gate_denials": (
        N_("share of gate denials that the run without bad days or attacks does not have"),
        N_("lower"),
    ),
    "wrongful_denials_per_1000": (
        N_("wrongful gate denials per 1,000 scored people"),
        N_("lower"),
    ),
    "cascade_size": (
        N_(
            "people pushed below the gate wrongly around one bad day (the person and those they "
            "rated or who rated them), within cascade_steps"
        ),
        N_("lower"),
    ),
    "time_to_recover_days": (N_("mean days from a wrongful gate denial to its end"), N_("lower")),
    "missed_misconduct": (
        N_("share of people of real misconduct whom the gate lets through"),
        N_("lower"),
    ),
    "wrongful_denial_impact": (
        N_("lowest group rate of wrongful denial / highest (1: equal)"),
        N_("closer to 1"),
    ),
    "discounted_retaliation": (
        N_("share of counting ratings the retaliation safeguard discounted"),
        N_("neither"),
    ),
    "discounted_collusion": (
        N_("share of counting ratings the collusion safeguard discounted"),
        N_("neither"),
    ),
    "discounted_newcomer": (
        N_("share of counting ratings the new-account safeguard discounted"),
        N_("neither"),
    ),
    "target_shift": (
        N_("the attack's target: its score minus its score without the attack"),
        N_("closer to 0"),
    ),
    "target_gate": (N_("the attack's target: share of steps it passed the gate"), _POLICY_CHOICE),
}
"""What each summary and gate column means and which direction is better (docs/lab.md,
Metrics), in English: translated where shown."""


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
        "cascades": out / "cascades.csv",
    }
    metrics = result.metrics
    pq.write_table(metrics, paths["parquet"])
    pacsv.write_csv(metrics, paths["csv"])
    pacsv.write_csv(_summary_table(result), paths["summary"])
    pacsv.write_csv(result.cascades, paths["cascades"])
    paths["report"].write_text(_html(result, experiment_text, language), encoding="utf-8")
    return paths


def _summary_table(result: LabResult) -> pa.Table:
    """Per arm: each metric's mean, and (``metric:ci95``) the half-width of its interval."""
    rows = []
    for arm, values in result.summary.items():
        halves = result.intervals.get(arm, {})
        rows.append({"arm": arm, **values, **{f"{k}:ci95": v for k, v in halves.items()}})
    return pa.Table.from_pylist(rows)


def _series(metrics: pa.Table, metric: str) -> dict[str, tuple[list[Any], list[float]]]:
    """Per arm: dates and the metric averaged over replicates."""
    if metric not in metrics.column_names:
        return {}
    labels = [
        run_label(society or "", arm)
        for society, arm in zip(
            _column(metrics, "society"), metrics["arm"].to_pylist(), strict=True
        )
    ]
    grouped = (
        pa.table({"arm": labels, "as_of": metrics["as_of"], metric: metrics[metric]})
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
            _gate_section(result, language),
            _attack_section(result, language),
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
        f"<td>{_value(getattr(experiment.behaviour, p.name), language)}</td>"
        f"<td class='text'>{html.escape(_(p.meaning))}</td>"
        f"<td class='text'>{html.escape(_(p.basis))}</td></tr>"
        for p in PARAMETERS
    )
    head = _head(_("parameter"), _("value"), _("meaning"), _("basis"))
    return _h2(_("Behaviour model")) + f"\n<table>{head}\n<tbody>{rows}</tbody></table>"


def _value(value: object, language: str) -> str:
    """A parameter's value: a number as the report writes numbers, a word as it is."""
    if isinstance(value, int | float):
        return _number(float(value), language)
    return html.escape(str(value))


def _column(metrics: pa.Table, name: str) -> list[Any]:
    if name in metrics.column_names:
        values: list[Any] = metrics[name].to_pylist()
        return values
    return [None] * metrics.num_rows


GATE_COLUMNS = (
    "gate_denial_rate",
    "wrongful_gate_denials",
    "wrongful_denials_per_1000",
    "cascade_size",
    "time_to_recover_days",
    "missed_misconduct",
    "wrongful_denial_impact",
    "haywire_index",
    "discounted_retaliation",
    "discounted_collusion",
    "discounted_newcomer",
)
"""The gate section's columns (docs/lab.md): each a mean with its 95% interval."""


def _with_interval(result: LabResult, label: str, metric: str, language: str) -> str:
    mean = float(result.summary.get(label, {}).get(metric, math.nan))
    half = float(result.intervals.get(label, {}).get(metric, math.nan))
    if math.isnan(half):
        return _number(mean, language)
    return f"{_number(mean, language)} ± {_number(half, language, '.2g')}"


def _gated_labels(result: LabResult) -> list[str]:
    return [k for k, v in result.summary.items() if "wrongful_gate_denials" in v]


def _gate_section(result: LabResult, language: str) -> str:
    """Gate denials against the counterfactual, cascades, and what each arm changes."""
    experiment = result.experiment
    labels = _gated_labels(result)
    if experiment.gate is None or not labels:
        return ""
    _ = gettext_for(language)
    note = _(
        "The gate is the measure %(gate)s: a person scored without it is denied. Each arm ran "
        "beside its counterfactual (the same world and draws without bad days, collusion "
        "rings or fake accounts); a denial the counterfactual does not have is wrongful. "
        "Values are means over the final %(months)s months and the replicates, ± the "
        "half-width of the 95%% interval over replicates."
    ) % {"gate": experiment.gate, "months": local_number(experiment.summary_months, language)}
    rows = "".join(
        f"<tr><th scope='row'>{html.escape(label)}</th>"
        + "".join(f"<td>{_with_interval(result, label, c, language)}</td>" for c in GATE_COLUMNS)
        + "</tr>"
        for label in labels
    )
    scrolls = html.escape(_("Gate denials (scrolls sideways)"))
    head = _head(_("arm"), *GATE_COLUMNS)
    title = _("Wrongful gate denials (share of denials), with intervals over replicates")
    sizes = _("Cascade sizes: share of bad days whose cascade reached at least this many people")
    return (
        _h2(_("Gate denials and cascades"))
        + f"\n<p>{html.escape(note)}</p>\n"
        + f'<div class="wide" tabindex="0" role="region" aria-label="{scrolls}">\n'
        + f"<table>{head}\n<tbody>{rows}</tbody></table></div>"
        + _comparisons(result, language)
        + f"<figure role='img' aria-label='{html.escape(title)}'>"
        + _bars(result, labels, "wrongful_gate_denials", title, language)
        + "</figure>"
        + f"<figure role='img' aria-label='{html.escape(sizes)}'>"
        + _cascade_plot(result, sizes, language)
        + "</figure>"
    )


def _comparisons(result: LabResult, language: str) -> str:
    """In each society, every arm against the baseline (the first arm by default): the paired
    difference in wrongful gate denials over replicates (the arms share their draws), and what
    it means."""
    _ = gettext_for(language)
    means = final_means(result.metrics, result.experiment)
    arms = list(dict.fromkeys(result.metrics["arm"].to_pylist()))
    societies = list(dict.fromkeys(s or "" for s in _column(result.metrics, "society")))
    items = []
    metric = "wrongful_gate_denials"
    reference = result.experiment.baseline or arms[0]
    for society in societies:
        first = run_label(society, reference)
        for arm in arms:
            if arm == reference:
                continue
            label = run_label(society, arm)
            if metric not in result.summary.get(label, {}) or first not in means:
                continue
            paired = _paired(means, label, first, metric)
            if paired is None:
                continue
            difference, half = paired
            if math.isnan(half):
                verdict = _("one replicate: no interval")
            elif difference + half < 0:
                verdict = _("fewer wrongful denials")
            elif difference - half > 0:
                verdict = _("more wrongful denials")
            else:
                verdict = _("no measurable change: the interval includes 0")
            item = _(
                "%(arm)s against %(first)s: %(difference)s (95%% interval %(low)s to "
                "%(high)s): %(verdict)s."
            ) % {
                "arm": label,
                "first": first,
                **_interval(difference, half, language),
                "verdict": verdict,
            }
            per_person = _paired(means, label, first, "wrongful_denials_per_1000")
            if per_person is not None:
                item += " " + _(
                    "Per 1,000 scored people: %(difference)s (95%% interval %(low)s to %(high)s)."
                ) % _interval(*per_person, language)
            items.append(item)
        discounted = result.summary.get(first, {})
        shares = [float(discounted.get(f"discounted_{n}", math.nan)) for n in _SAFEGUARDS]
        if items and not any(math.isnan(x) for x in shares):
            items.append(
                _(
                    "%(baseline)s: its safeguards discounted %(retaliation)s of the "
                    "counting ratings as retaliation, %(collusion)s as collusion and "
                    "%(newcomer)s as new accounts: a safeguard changes wrongful denials only "
                    "through the ratings it discounts, and only if those ratings are what "
                    "causes the denials."
                )
                % {
                    "baseline": first,
                    **{
                        name: _number(100 * share, language, ".2g") + "%"
                        for name, share in zip(_SAFEGUARDS, shares, strict=True)
                    },
                }
            )
    if not items:
        return ""
    lead = _("Wrongful gate denials, each arm against %(baseline)s in its society:") % {
        "baseline": reference
    }
    listed = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return f"<p>{html.escape(lead)}</p><ul>{listed}</ul>"


_SAFEGUARDS = ("retaliation", "collusion", "newcomer")


def _paired(
    means: dict[str, dict[int, dict[str, float]]], label: str, first: str, metric: str
) -> tuple[float, float] | None:
    """The mean difference of ``metric`` between two arms over the replicates both have, and
    the half-width of its 95% interval (the arms share their draws: a paired comparison)."""
    if label not in means or first not in means:
        return None
    pairs = [
        means[label][r][metric] - means[first][r][metric]
        for r in means[label]
        if r in means[first]
        and not math.isnan(means[label][r].get(metric, math.nan))
        and not math.isnan(means[first][r].get(metric, math.nan))
    ]
    if not pairs:
        return None
    return sum(pairs) / len(pairs), half_width(pairs)


def _interval(difference: float, half: float, language: str) -> dict[str, str]:
    return {
        "difference": _number(difference, language, "+.3g"),
        "low": _number(difference - half, language, "+.3g"),
        "high": _number(difference + half, language, "+.3g"),
    }


def _attack_section(result: LabResult, language: str) -> str:
    """For attack societies: the target's shift and gate by the attacker's budget, per arm."""
    attacks = list(
        dict.fromkeys(s.attack for s in result.experiment.societies if s.attack is not None)
    )
    if not attacks:
        return ""
    _ = gettext_for(language)
    note = (
        _(
            "The target is one person; each point is the mean over the final months and the "
            "replicates, with its 95%% interval. target_shift is the target's score minus its "
            "score in the counterfactual without the attack; target_gate is the share of steps "
            "in which the target passed the gate."
        )
        % {}
    )
    parts = [_h2(_("Attacks")), f"<p>{html.escape(note)}</p>"]
    for attack in attacks:
        for metric, name in (
            ("target_shift", _("%(attack)s: target's score shift by budget")),
            ("target_gate", _("%(attack)s: target passes the gate, by budget")),
        ):
            title = name % {"attack": attack}
            parts.append(
                f"<figure role='img' aria-label='{html.escape(title)}'>"
                + _budget_plot(result, attack, metric, title, language)
                + "</figure>"
            )
    return "\n".join(parts)


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _bars(result: LabResult, labels: list[str], metric: str, title: str, language: str) -> str:
    """One horizontal bar per arm with its 95% interval."""
    use_cjk_font()
    means = [float(result.summary[label].get(metric, math.nan)) for label in labels]
    halves = [float(result.intervals[label].get(metric, math.nan)) for label in labels]
    with plt.rc_context({"svg.fonttype": "path"}):
        figure, axes = plt.subplots(figsize=(10, 0.5 + 0.4 * len(labels)), dpi=100)
        try:
            errors = [0.0 if math.isnan(h) else h for h in halves]
            axes.barh(range(len(labels)), means, xerr=errors, color="#4a78a8", capsize=3)
            axes.set_yticks(range(len(labels)), labels, fontsize=8)
            axes.invert_yaxis()
            axes.set_title(title, fontsize=11)
            axes.grid(alpha=0.3, axis="x")
            figure.tight_layout()
            return _svg(figure)
        finally:
            plt.close(figure)


def _cascade_plot(result: LabResult, title: str, language: str) -> str:
    """Per arm: the share of bad days whose cascade reached at least ``s`` people."""
    _ = gettext_for(language)
    use_cjk_font()
    table = result.cascades
    labels = [
        run_label(society or "", arm)
        for society, arm in zip(table["society"].to_pylist(), table["arm"].to_pylist(), strict=True)
    ]
    sizes = table["size"].to_pylist()
    with plt.rc_context({"svg.fonttype": "path"}):
        figure, axes = plt.subplots(figsize=(10, 3.8), dpi=100)
        try:
            for label in dict.fromkeys(labels):
                own = sorted(
                    size for size, mine in zip(sizes, labels, strict=True) if mine == label
                )
                top = max(own, default=0)
                xs = list(range(1, top + 1))
                ys = [sum(1 for v in own if v >= x) / len(own) for x in xs]
                if xs:
                    axes.step(xs, ys, where="post", label=label, linewidth=1.4)
            axes.set_yscale("log")
            axes.set_title(title, fontsize=11)
            axes.set_xlabel(_("people in the cascade"), fontsize=9)
            axes.grid(alpha=0.3)
            if labels:
                axes.legend(
                    fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False
                )
            figure.tight_layout()
            return _svg(figure)
        finally:
            plt.close(figure)


def _budget_plot(result: LabResult, attack: str, metric: str, title: str, language: str) -> str:
    """One line per arm: the metric by the attacker's budget, with 95% intervals."""
    _ = gettext_for(language)
    use_cjk_font()
    variants = [s for s in result.experiment.societies if s.attack == attack]
    arms = list(dict.fromkeys(result.metrics["arm"].to_pylist()))
    with plt.rc_context({"svg.fonttype": "path"}):
        figure, axes = plt.subplots(figsize=(10, 3.8), dpi=100)
        try:
            for arm in arms:
                xs: list[float] = []
                ys: list[float] = []
                errors: list[float] = []
                for society in variants:
                    label = run_label(society.label, arm)
                    value = float(result.summary.get(label, {}).get(metric, math.nan))
                    if math.isnan(value):
                        continue
                    half = float(result.intervals.get(label, {}).get(metric, math.nan))
                    xs.append(society.budget if society.budget is not None else len(xs))
                    ys.append(value)
                    errors.append(0.0 if math.isnan(half) else half)
                if xs:
                    axes.errorbar(xs, ys, yerr=errors, label=arm, marker="o", capsize=3)
            axes.set_title(title, fontsize=11)
            axes.set_xlabel(_("attacker's budget"), fontsize=9)
            axes.grid(alpha=0.3)
            axes.legend(
                title=_("arm"), fontsize=8, title_fontsize=8, loc="center left",
                bbox_to_anchor=(1.01, 0.5), frameon=False,
            )  # fmt: skip
            figure.tight_layout()
            return _svg(figure)
        finally:
            plt.close(figure)


def _h2(heading: str) -> str:
    return f"<h2>{html.escape(heading)}</h2>"


def _head(*labels: str) -> str:
    """A table's header row."""
    cells = "".join(f'<th scope="col">{html.escape(label)}</th>' for label in labels)
    return f"<thead><tr>{cells}</tr></thead>"
