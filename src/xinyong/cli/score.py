"""``xinyong score`` and ``xinyong lint``."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    err,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
)
from xinyong.domain.catalog import Catalog
from xinyong.domain.record_table import RecordsFileError
from xinyong.pilots import bundled_pilots
from xinyong.schemes.issues import SchemeError, Severity
from xinyong.schemes.lint import lint
from xinyong.schemes.load import LoadedScheme, load_scheme
from xinyong.scoring.records_file import save_stream
from xinyong.scoring.run import Engine, SparkSettings, score_file, score_to_directory
from xinyong.tabular import UnsupportedFormat, write_table

__all__ = [
    "AsOfOption",
    "RecordsOption",
    "checked_scheme",
    "lint_command",
    "parse_date",
    "records_from_stdin",
    "score",
]

AsOfOption = Annotated[str, typer.Option("--as-of", help="The as-of date, YYYY-MM-DD.")]
RecordsOption = Annotated[
    Path | None,
    typer.Option(
        "--records",
        help="Score a records file (CSV, Parquet, JSON Lines) or a directory of Parquet files "
        "(a partitioned export) directly; - reads standard input (its format told by its first "
        "bytes). Without it, the ledger (--db) is scored.",
    ),
]


def _spark_settings(master: str | None, conf: list[str]) -> SparkSettings:
    pairs = []
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--spark-conf {item!r}: expected KEY=VALUE")
        pairs.append((key.strip(), value.strip()))
    return SparkSettings(master=master, conf=tuple(pairs))


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: bad date {text!r}, expected YYYY-MM-DD")


def scheme_source(given: Path) -> Path:
    """A scheme argument: a TOML file, or the id of a bundled pilot (as ``lab run`` names them:
    ``rongcheng``, ``judgment-defaulters``...)."""
    if given.exists() or given.suffix:
        return given
    pilots = bundled_pilots()
    if str(given) in pilots:
        return pilots[str(given)]
    fail(f"{given}: no such scheme file, and no bundled pilot of that name ({', '.join(pilots)})")


def checked_scheme(path: Path, catalog: Catalog | None, strict: bool = False) -> LoadedScheme:
    """Load a scheme (a file or a bundled pilot's id), print its warnings, and exit 2 when it
    has errors."""
    path = scheme_source(path)
    try:
        loaded = load_scheme(path)
    except SchemeError as exc:
        for issue in exc.issues:
            err.print(str(issue), markup=False)
        fail(f"{path}: the scheme has errors; nothing was scored")
    return _refuse_errors(loaded, catalog, strict)


def _refuse_errors(loaded: LoadedScheme, catalog: Catalog | None, strict: bool) -> LoadedScheme:
    issues = lint(loaded, catalog)
    for issue in issues:
        err.print(str(issue), markup=False)
    blocking = [i for i in issues if i.severity is Severity.ERROR or strict]
    if blocking:
        fail(f"{loaded.path}: the scheme has {len(blocking)} error(s); nothing was scored")
    return loaded


def score(
    scheme: Annotated[
        Path | None,
        typer.Argument(
            help="Scheme TOML file or bundled pilot id (or --scheme ID, stored in the ledger)."
        ),
    ] = None,
    records: RecordsOption = None,
    db: DbOption = None,
    scheme_id: Annotated[
        str | None,
        typer.Option("--scheme", help="A scheme stored with `scheme add` (in the ledger)."),
    ] = None,
    as_of: AsOfOption = "",
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output: .csv, .parquet or .jsonl; '-' for stdout. With --engine spark and "
            "--records, a path without an extension is a directory the executors write Parquet "
            "files into (nothing is collected to the driver; rows not sorted).",
        ),
    ] = Path("-"),
    engine: Annotated[
        Engine,
        typer.Option(
            help="duckdb (compiled), python (reference), postgres (in the ledger database), "
            "spark (compiled, on Spark)."
        ),
    ] = (Engine.DUCKDB),
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL (spark://HOST:7077, yarn, local[4]). Default: $SPARK_REMOTE "
            "(Spark Connect) when set, else local[N] with one thread per core.",
        ),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            "--spark-conf",
            help="A Spark setting KEY=VALUE for the session (repeatable), e.g. "
            "spark.driver.memory=8g.",
        ),
    ] = None,
    show_sql: Annotated[
        bool,
        typer.Option(
            "--show-sql",
            help="Print the compiled SQL for DuckDB and PostgreSQL (and Spark with --engine "
            "spark).",
        ),
    ] = False,
    save: Annotated[
        bool, typer.Option("--save", help="Save the standings in the ledger database.")
    ] = False,
    known_at: Annotated[
        int | None, typer.Option(min=0, help="Score the ledger as it stood at this size.")
    ] = None,
    catalog: CatalogOption = None,
) -> None:
    """Score every subject under a scheme as of a date.

    Writes subject_id, score, grade, lists, measures (lists and measures as sorted ids joined by
    ';'), sorted by subject_id. A scheme with lint errors is refused; warnings are printed.
    """
    if not as_of:
        fail("--as-of YYYY-MM-DD is required")
    day = parse_date(as_of, "--as-of")
    _check_source(records, db, scheme_id)
    records = records_from_stdin(records)
    cat = load_catalog_or_exit(catalog)
    loaded: LoadedScheme | None = None
    if scheme is not None:
        loaded = checked_scheme(scheme, cat)
    elif scheme_id is None:
        fail("give a SCHEME file or --scheme ID")
    if (spark_master or spark_conf) and engine is not Engine.SPARK:
        fail("--spark-master and --spark-conf go with --engine spark")
    spark = _spark_settings(spark_master, spark_conf or [])
    if show_sql and loaded is not None:
        _print_sql(loaded, day, engine)
        if out_path == Path("-"):
            return
    if save and records is not None:
        fail("--save stores standings of the ledger, not of a --records file")
    if _written_by_executors(engine, records, out_path):
        assert loaded is not None
        assert records is not None
        _score_to_directory(loaded, records, day, out_path, spark, cat)
        return
    if records is None:
        table, loaded = _score_db(db, loaded, scheme_id, cat, day, engine, known_at, spark, save)
    else:
        assert loaded is not None
        try:
            table = score_file(loaded.scheme, records, day, engine, spark, cat)
        except (RecordsFileError, ValueError) as exc:
            fail(str(exc))
    _write_standings(table, out_path, f"{loaded.scheme.id} {loaded.short_version}", day, engine)


def records_from_stdin(records: Path | None) -> Path | None:
    """``--records -``: standard input saved to a temporary file, removed when the command
    exits (the readers need a file: Parquet is read from its end)."""
    if records != Path("-"):
        return records
    folder = Path(tempfile.mkdtemp(prefix="xinyong-stdin-"))
    atexit.register(shutil.rmtree, folder, True)
    return save_stream(sys.stdin.buffer, folder)


def _check_source(records: Path | None, db: str | None, scheme_id: str | None) -> None:
    """At most one of a records file and a ledger database (the ledger when neither is given)."""
    if records is not None and (db is not None or scheme_id is not None):
        fail("give either --records FILE or --db URL, not both")


def _write_standings(
    table: pa.Table, out_path: Path, scheme: str, day: date, engine: Engine
) -> None:
    try:
        write_table(table, out_path)
    except UnsupportedFormat as exc:
        fail(str(exc))
    if out_path != Path("-"):
        err.print(
            f"{out_path}: {table.num_rows:,} standings under {scheme} as of {day} ({engine.value})"
        )


def _print_sql(loaded: LoadedScheme, day: date, engine: Engine) -> None:
    """``--show-sql``: the compiled SQL for DuckDB and PostgreSQL (and Spark when it runs)."""
    from xinyong.engines.duckdb import to_sql

    for dialect in ("duckdb", "postgres"):
        out.print(f"-- {dialect}\n{to_sql(loaded.scheme, day, dialect)};\n", markup=False)
    if engine is Engine.SPARK:
        from xinyong.engines.spark import to_sql as spark_sql

        out.print(f"-- spark\n{spark_sql(loaded.scheme, day)};\n", markup=False)


def _score_to_directory(
    loaded: LoadedScheme,
    records: Path,
    day: date,
    out_path: Path,
    spark: SparkSettings,
    catalog: Catalog,
) -> None:
    """Spark's executors write the standings of a Parquet dataset to ``out_path``."""
    try:
        rows = score_to_directory(loaded.scheme, records, day, out_path, spark, catalog)
    except (RecordsFileError, ValueError) as exc:
        fail(str(exc))
    err.print(
        f"{out_path}: {rows:,} standings under {loaded.scheme.id} {loaded.short_version} "
        f"as of {day} (spark; Parquet files written by the executors)"
    )


def _score_db(
    db: str | None,
    loaded: LoadedScheme | None,
    scheme_id: str | None,
    catalog: Catalog,
    day: date,
    engine: Engine,
    known_at: int | None,
    spark: SparkSettings,
    save: bool,
) -> tuple[pa.Table, LoadedScheme]:
    """``score --db``: the standings under a scheme file or a stored scheme (``--scheme ID``),
    saved in the ledger database with ``--save``. The ledger's modules are imported here:
    scoring a records file needs none of them."""
    from xinyong.scoring.ledger_run import score_ledger
    from xinyong.scoring.run import standings_from_table
    from xinyong.scoring.store import UnknownScheme, load_stored_scheme, save_standings

    engine_db = open_db_or_exit(db)
    try:
        with engine_db.connect() as conn, conn.begin():
            if loaded is None:
                assert scheme_id is not None
                stored = load_stored_scheme(conn, scheme_id)
                loaded = _refuse_errors(stored, catalog, strict=False)
            table, head = score_ledger(conn, loaded.scheme, day, engine, catalog, known_at, spark)
            if save:
                run = save_standings(
                    conn, loaded, day, head, engine.value, standings_from_table(table)
                )
                err.print(
                    f"saved run {run.run_id}: {run.subjects:,} standings of "
                    f"{run.scheme_id} {run.version[:12]} as of {day} at ledger {head.token}"
                )
    except (UnknownScheme, ValueError) as exc:
        fail(str(exc))
    finally:
        engine_db.dispose()
    return table, loaded


def _written_by_executors(engine: Engine, records: Path | None, out: Path) -> bool:
    """Spark writing a directory of standings itself (an --out without a file extension)."""
    return engine is Engine.SPARK and records is not None and out != Path("-") and not out.suffix


def lint_command(
    schemes: Annotated[list[Path], typer.Argument(help="Scheme TOML files.")],
    strict: Annotated[bool, typer.Option(help="Treat guardrail warnings as errors.")] = False,
    catalog: CatalogOption = None,
) -> None:
    """Check schemes: errors, and guardrail warnings against unlawful social scoring.

    Exit 0 when clean (warnings allowed unless --strict), 1 otherwise.
    """
    cat = load_catalog_or_exit(catalog)
    failed = False
    for path in schemes:
        try:
            loaded = load_scheme(path)
        except SchemeError as exc:
            for issue in exc.issues:
                out.print(str(issue), markup=False)
            failed = True
            continue
        issues = lint(loaded, cat)
        for issue in issues:
            out.print(str(issue), markup=False)
        if any(i.severity is Severity.ERROR or strict for i in issues):
            failed = True
        elif not issues:
            out.print(f"{path}: ok ({loaded.scheme.id} {loaded.short_version})")
    if failed:
        raise typer.Exit(1)
