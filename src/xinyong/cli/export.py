"""``xinyong export``: effective records to Parquet (one file, or partitioned by subject)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
    row_progress,
)
from xinyong.ledger.export import export_records

__all__ = ["export"]


def export(
    out_path: Annotated[
        Path,
        typer.Option("--out", help="Parquet file to write (a directory with --partitions)."),
    ],
    as_of: Annotated[
        str | None,
        typer.Option(help="Valid date YYYY-MM-DD (records in force on it).", show_default="today"),
    ] = None,
    known_at: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Use the ledger as it stood at this log size (replay).",
            show_default="everything committed",
        ),
    ] = None,
    expire: Annotated[
        bool,
        typer.Option(help="Leave out records past their code's maximum display period."),
    ] = True,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Write a directory of N Parquet files, part=K/records.parquet, each with the "
            "records of the subjects whose CRC-32 of the id modulo N is K, for batch engines "
            "to read in parallel.",
            show_default="one file",
        ),
    ] = None,
    db: DbOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Write the effective records (as of a date, as known at a log size) for batch engines.

    Score the export with `xinyong score SCHEME --records OUT --engine duckdb|spark`.
    """
    if partitions is None and out_path.suffix.lower() not in (".parquet", ".pq"):
        fail(f"--out {out_path}: export writes Parquet; name the file *.parquet")
    if partitions is not None and out_path.exists() and not out_path.is_dir():
        fail(f"--out {out_path}: --partitions writes a directory, and this is a file")
    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        fail(f"--as-of: bad date {as_of!r}, expected YYYY-MM-DD")
    cat = load_catalog_or_exit(catalog) if expire else None
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn, conn.begin(), row_progress("export") as bar:
            task = bar.add_task("export", total=None)
            rows = export_records(
                conn,
                out_path,
                day,
                known_at,
                cat,
                progress=lambda done: bar.update(task, completed=done),
                partitions=partitions,
            )
    except ValueError as exc:  # a target the export will not overwrite
        fail(str(exc))
    finally:
        engine.dispose()
    where = f" in {partitions} partitions" if partitions is not None else ""
    out.print(f"{out_path}: {rows:,} effective records as of {day}{where}")
