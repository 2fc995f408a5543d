"""``xinyong lab``: run experiments that compare schemes on a simulated population.

Registered in :mod:`xinyong.cli.app` with ``app.add_typer(lab.lab_app, name="lab")``.
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from xinyong.cli.common import CatalogOption, err, fail, load_catalog_or_exit, out
from xinyong.lab.experiment import ExperimentError, bundled_experiments, load_experiment

__all__ = ["lab_app"]

lab_app = typer.Typer(
    help="The pilot lab: simulate a population under competing schemes.", no_args_is_help=True
)


class Language(StrEnum):
    """The report's languages: the codes of :data:`xinyong.i18n.LANGUAGES` (a test checks)."""

    en = "en"
    zh = "zh"


@lab_app.command("run")
def run(
    experiment: Annotated[
        str,
        typer.Argument(
            help="Experiment TOML file, or the name of a bundled one (see `xinyong lab list`).",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Directory for report.html and the metrics (default: lab-NAME)."
        ),
    ] = None,
    catalog: CatalogOption = None,
    lang: Annotated[
        Language,
        typer.Option(
            "--lang",
            help="Language of report.html: en (English) or zh (Simplified Chinese). The "
            "terminal summary and the metrics files are the same in both.",
        ),
    ] = Language.en,
) -> None:
    """Run an experiment: every scheme over the same simulated conduct; write the report."""
    from xinyong.lab.report import write_outputs
    from xinyong.lab.runner import run_experiment

    bundled = bundled_experiments()
    path = bundled[experiment] if experiment in bundled else Path(experiment)
    try:
        loaded = load_experiment(path)
    except ExperimentError as exc:
        fail(str(exc))
    cat = load_catalog_or_exit(catalog)
    target = out_dir or Path(f"lab-{path.stem}")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("drawing the population", total=None)

        def advance(phase: str, done: int, total: int) -> None:
            progress.update(task, description=phase, completed=done, total=total)

        try:
            result = run_experiment(loaded, path.resolve().parent, cat, advance)
        except (ExperimentError, ValueError) as exc:
            fail(str(exc))
    paths = write_outputs(result, path.read_text(encoding="utf-8"), target, lang.value)
    table = Table(title=f"{loaded.name}: final {loaded.summary_months} months")
    shown = ("listed_per_1000", "deterrence", "wrongful_listing_rate", "disparate_impact")
    table.add_column("arm", overflow="fold")
    for name in shown:  # long names wrap (at "_" too) rather than being cut
        table.add_column(name.replace("_", "_\u200b"), justify="right", overflow="fold")
    for arm, values in result.summary.items():
        table.add_row(arm, *(_number(values.get(name, math.nan)) for name in shown))
    out.print(table)
    for ranked in result.ranking[:5]:
        verdict = "meets constraints" if ranked.feasible else "fails " + ", ".join(ranked.failed)
        out.print(f"{ranked.rank}. {ranked.label}: {_number(ranked.objective)} ({verdict})")
    timings = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in result.timings.items())
    out.print(f"time: {timings}")
    out.print(f"report: {paths['report']}")


@lab_app.command("list")
def list_experiments() -> None:
    """List the bundled example experiments."""
    for name, path in bundled_experiments().items():
        out.print(f"{name}\t{load_experiment(path).name}")


def _number(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)
