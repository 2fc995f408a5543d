"""``xinyong synth``: write a synthetic population and its conduct records.

Registered in :mod:`xinyong.cli.app` with ``app.command("synth")(synth)``.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from xinyong.synth.dataset import DEFAULT_END, SynthConfig, generate, subjects_path, write
from xinyong.tabular import UnsupportedFormat

__all__ = ["synth"]


def synth(
    *,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Records file (.csv, .parquet, .jsonl); subjects go to NAME.subjects.EXT.",
            show_default=False,
        ),
    ],
    people: Annotated[int, typer.Option("--people", min=0, help="Number of people.")] = 10_000,
    orgs: Annotated[int, typer.Option("--orgs", min=0, help="Number of organizations.")] = 1_000,
    years: Annotated[
        int, typer.Option("--years", min=1, max=50, help="Length of the window in years.")
    ] = 5,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed; same seed, same bytes.")
    ] = 0,
    end: Annotated[
        str,
        typer.Option(
            "--end",
            metavar="YYYY-MM-DD",
            help="Last day of the window (YYYY-MM-DD); fixed by default, never today.",
        ),
    ] = DEFAULT_END.isoformat(),
) -> None:
    """Generate a synthetic population and its conduct records (reproducible from the seed).

    Identifiers use the reserved 00 region range, so no real person or organization can be
    named. Codes come from the catalog ($XINYONG_CATALOG or the bundled one).
    """
    try:
        last = date.fromisoformat(end)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {end!r}", param_hint="--end") from None
    try:
        subjects_file = subjects_path(out)
    except (UnsupportedFormat, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    if not out.parent.is_dir():
        # Checked now rather than after minutes of generating.
        raise typer.BadParameter(f"directory {out.parent} does not exist", param_hint="--out")
    config = SynthConfig(people=people, organizations=orgs, years=years, seed=seed, end=last)

    started = time.perf_counter()
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        dataset = generate(config, progress=progress)
        write(dataset, out, progress=progress)
    elapsed = time.perf_counter() - started
    typer.echo(
        f"wrote {dataset.records.num_rows:,} records about {people:,} people and {orgs:,} "
        f"organizations ({config.start} to {config.end}) to {out} and {subjects_file} "
        f"in {elapsed:.1f} s"
    )
