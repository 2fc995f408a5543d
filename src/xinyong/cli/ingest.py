"""``xinyong ingest`` and ``xinyong subjects load``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    err,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
    row_progress,
)
from xinyong.ingest.apart import PreparerDied
from xinyong.ingest.files import ingest_records
from xinyong.ingest.readers import FileError, detect_format
from xinyong.ingest.subjects import load_subjects

__all__ = ["ingest", "subjects_app"]

subjects_app = typer.Typer(help="Register subjects: names and identifiers.", no_args_is_help=True)


def _check_file(file: Path) -> None:
    """Usage errors before any work: an unknown extension or a missing file."""
    try:
        detect_format(file)
    except FileError as exc:
        fail(str(exc))
    if not file.is_file():
        fail(f"{file}: no such file")


def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file of records.")],
    source: Annotated[
        str | None,
        typer.Option(help="Source name for rows without one; rows naming another are rejected."),
    ] = None,
    db: DbOption = None,
    catalog: CatalogOption = None,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Rows per batch, the unit kept whole if killed. A batch is one transaction; "
            "with --apart, up to 4 batches ready together commit as one.",
        ),
    ] = 50_000,
    apart: Annotated[
        bool | None,
        typer.Option(
            "--apart/--one-process",
            help="Read, validate and hash in a second process while this one writes (default: "
            "for a file of 200,000 rows or more into a SQLite file, with two CPUs or more).",
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            help="Date treated as today when refusing future dates (YYYY-MM-DD).",
            show_default="the current date",
        ),
    ] = None,
) -> None:
    """Ingest conduct records; bad rows go to FILE.rejects.csv, good rows are committed.

    Exit 0 when every row was accepted (or was already in the ledger), 1 when some rows were
    rejected, 2 for usage errors (missing file, unknown format, missing columns).
    """
    cat = load_catalog_or_exit(catalog)
    _check_file(file)
    try:
        today_date = date.fromisoformat(today) if today else None
    except ValueError:
        fail(f"--today: bad date {today!r}, expected YYYY-MM-DD")
    engine = open_db_or_exit(db, create=True)
    try:
        with row_progress(f"ingest {file.name}") as bar:
            task = bar.add_task(f"ingest {file.name}", total=None)

            def advance(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            report = ingest_records(
                engine,
                file,
                cat,
                source=source,
                batch_size=batch_size,
                today=today_date,
                progress=advance,
                apart=apart,
            )
    except (FileError, ValueError) as exc:
        fail(str(exc))
    except PreparerDied as exc:  # not the input's fault: what was committed stays
        fail(str(exc), code=1)
    finally:
        engine.dispose()
    out.print(
        f"{file}: {report.rows:,} rows read, {report.accepted:,} records added, "
        f"{report.duplicates:,} already present, {report.rejected:,} rejected "
        f"({report.conflicts:,} conflicts), {report.new_subjects:,} new subjects, "
        f"{report.rows_per_second:,.0f} rows/s"
    )
    if report.head is not None:
        out.print(f"ledger head: {report.head.token}")
    if report.rejects_file is not None:
        first = report.rejects[0]
        err.print(
            f"rejected rows written to {report.rejects_file} "
            f"(first: line {first.line}, {first.field}: {first.reason})"
        )
        raise typer.Exit(1)


@subjects_app.command("load")
def subjects_load(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file of subjects.")],
    db: DbOption = None,
) -> None:
    """Add or update subjects: subject_id, kind, display_name, identifiers / resident_id / uscc.

    Exit codes as for ingest: 0 all accepted, 1 some rejected, 2 usage errors.
    """
    _check_file(file)
    engine = open_db_or_exit(db, create=True)
    try:
        report = load_subjects(engine, file)
    except FileError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    out.print(
        f"{file}: {report.rows:,} rows read, {report.added:,} subjects added, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{report.rejected:,} rejected"
    )
    if report.ignored_columns:
        err.print(f"ignored columns: {', '.join(report.ignored_columns)}", markup=False)
    if report.rejects_file is not None:
        first = report.rejects[0]
        err.print(
            f"rejected rows written to {report.rejects_file} "
            f"(first: line {first.line}, {first.field}: {first.reason})"
        )
        raise typer.Exit(1)
