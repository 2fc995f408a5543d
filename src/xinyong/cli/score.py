"""``xinyong score``, ``xinyong explain`` and ``xinyong lint``."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
import pyarrow as pa
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection

from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    err,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
)
from xinyong.cli.peer import print_peer
from xinyong.decisions.related import related_facts, related_measure, relations_of
from xinyong.decisions.standing import peer_scores_of, subject_kind
from xinyong.domain.catalog import Catalog
from xinyong.domain.identifiers import IdentifierRefused, canonical_subject_id
from xinyong.domain.record_table import RecordsFileError, input_records
from xinyong.engines.duckdb import to_sql
from xinyong.ledger.append import read_head
from xinyong.peer.algorithms import peer_scores_from_table
from xinyong.peer.ratings import SeedsAbsent
from xinyong.peer.result import PeerScore
from xinyong.pilots import bundled_pilots
from xinyong.schemes.eligibility import ineligibility
from xinyong.schemes.issues import SchemeError, Severity
from xinyong.schemes.lint import lint
from xinyong.schemes.load import LoadedScheme, load_scheme
from xinyong.scoring.as_ingested import displayed, named_subjects
from xinyong.scoring.explanation import explanation_json
from xinyong.scoring.ledger_source import subject_records
from xinyong.scoring.records_file import read_records_file, save_stream
from xinyong.scoring.reference import Explanation, explain_subject
from xinyong.scoring.run import (
    Engine,
    SparkSettings,
    score_file,
    score_ledger,
    score_to_directory,
    standings_from_table,
)
from xinyong.scoring.store import UnknownScheme, load_stored_scheme, save_standings
from xinyong.tabular import UnsupportedFormat, write_table

__all__ = ["checked_scheme", "explain", "lint_command", "score"]

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


def _date(text: str, option: str) -> date:
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
    day = _date(as_of, "--as-of")
    _check_source(records, db, scheme_id)
    records = _from_stdin(records)
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
    try:
        if records is not None:
            assert loaded is not None
            table = score_file(loaded.scheme, records, day, engine, spark, cat)
        else:
            table, loaded = _score_db(
                db, loaded, scheme_id, cat, day, engine, known_at, spark, save
            )
    except (RecordsFileError, UnknownScheme, ValueError) as exc:
        fail(str(exc))
    _write_standings(table, out_path, f"{loaded.scheme.id} {loaded.short_version}", day, engine)


def _from_stdin(records: Path | None) -> Path | None:
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
    saved in the ledger database with ``--save``."""
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
    finally:
        engine_db.dispose()
    return table, loaded


def _written_by_executors(engine: Engine, records: Path | None, out: Path) -> bool:
    """Spark writing a directory of standings itself (an --out without a file extension)."""
    return engine is Engine.SPARK and records is not None and out != Path("-") and not out.suffix


def explain(
    scheme: Annotated[Path, typer.Argument(help="Scheme TOML file or bundled pilot id.")],
    subject: Annotated[str, typer.Option("--subject", help="The subject id.")],
    as_of: AsOfOption = "",
    records: RecordsOption = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    catalog: CatalogOption = None,
) -> None:
    """Explain one subject's standing record by record: what counted, what did not, and why."""
    if not as_of:
        fail("--as-of YYYY-MM-DD is required")
    day = _date(as_of, "--as-of")
    try:
        subject = canonical_subject_id(subject)
    except IdentifierRefused as exc:
        fail(f"--subject: not a subject id: {exc.reason}")
    cat = load_catalog_or_exit(catalog)
    loaded = checked_scheme(scheme, cat)
    registered: str | None = None
    related: list[dict[str, Any]] = []
    records = _from_stdin(records)
    try:
        if records is not None:
            named = read_records_file(records)
            table = displayed(named, day, cat)  # as if ingested: what the catalog still shows
            found = [r for r in input_records(records, table) if r.subject_id == subject]
            kinds = named_subjects(named).to_pydict()
            registered = dict(zip(kinds["subject_id"], kinds["kind"], strict=True)).get(subject)
            peer = _peer_score(loaded, subject, day, table, None, cat)
        else:
            engine_db = open_db_or_exit(db)
            try:
                with engine_db.connect() as conn:
                    size = read_head(conn).size
                    found = subject_records(conn, subject, day, size, cat)
                    registered = subject_kind(conn, subject, size)
                    peer = _peer_score(loaded, subject, day, None, (conn, size), cat)
                    related = _related(conn, loaded, subject, day, size, cat)
            finally:
                engine_db.dispose()
    except (RecordsFileError, SeedsAbsent) as exc:
        fail(str(exc))
    kinds = {registered} if registered else {r.subject_kind for r in found}
    reasons = [ineligibility(loaded.scheme, subject, k, found, day) for k in sorted(kinds)]
    if reasons and None not in reasons:
        _print_not_scored(subject, loaded, str(reasons[0]), related, as_json)
        return
    result = explain_subject(loaded.scheme, subject, found, day, peer)
    if as_json:
        told = {**explanation_json(result, loaded.version), "related_measures": related}
        out.print(orjson.dumps(told).decode())
    else:
        _print_explanation(result, loaded)
        _print_related(related)


def _print_not_scored(
    subject: str, loaded: LoadedScheme, reason: str, related: list[dict[str, Any]], as_json: bool
) -> None:
    if as_json:
        told = {"subject": subject, "scheme": loaded.scheme.id, "scored": False}
        told |= {"reason": reason, "related_measures": related}
        out.print(orjson.dumps(told).decode())
    else:
        out.print(f"{subject} is not scored by {loaded.scheme.id}: {reason}", markup=False)
        _print_related(related)


def _related(
    conn: Connection,
    loaded: LoadedScheme,
    subject: str,
    day: date,
    size: int,
    catalog: Catalog,
) -> list[dict[str, Any]]:
    """The scheme's measures that reach ``subject`` through a role in an organisation
    (ledger mode only: relations are between registered subjects)."""
    extended = [m for m in loaded.scheme.measures if m.extends_to]
    if not extended:
        return []
    held = relations_of(conn, subject, day, size, catalog)
    reaching = []
    for measure in extended:
        found = related_measure(conn, loaded, measure, subject, day, size, catalog, held)
        if found is not None:
            reaching.append({"measure": measure.id, **related_facts(found)["related"]})
    return reaching


def _print_related(related: list[dict[str, Any]]) -> None:
    for r in related:
        out.print(f"measure {r['measure']} applies {r['reason']} (record {r['record']})")


def _peer_score(
    loaded: LoadedScheme,
    subject: str,
    day: date,
    table: pa.Table | None,
    ledger: tuple[Connection, int] | None,
    catalog: Catalog,
) -> PeerScore | None:
    """The subject's peer score over the records file or the ledger (None without [peer])."""
    section = loaded.scheme.peer
    if section is None:
        return None
    if table is not None:
        scores = peer_scores_from_table(section, table, loaded.scheme.subject_kinds, day)
        return scores.explain(subject)
    assert ledger is not None
    conn, size = ledger
    return peer_scores_of(conn, loaded, day, size, catalog).explain(subject)


def _print_explanation(result: Explanation, loaded: LoadedScheme) -> None:
    s = result.standing
    out.print(
        f"[bold]{escape(s.subject_id)}[/] under {escape(result.scheme_id)} "
        f"{loaded.short_version} as of {result.as_of}: score {s.score:g}, "
        f"grade {escape(s.grade)}",
        markup=True,
    )
    table = Table(title="Records that counted")
    for column in (
        "record",
        "code",
        "date",
        "rule",
        "age (days)",
        "term",
        "units",
        "factor",
        "contribution",
    ):
        table.add_column(column)
    for c in result.records:
        if c.counted:
            table.add_row(
                c.record.key,
                c.record.code,
                str(c.record.occurred_at),
                c.rule_id,
                str(c.age_days),
                f"{c.term} (until {c.ends_on})" if c.term else "-",
                "-" if c.units is None else f"{c.units:g}",
                f"{c.factor:.4f}",
                f"{c.contribution:+g}",
            )
    out.print(table)
    rules = Table(title="Rule totals")
    for column in ("rule", "records", "total", "after cap"):
        rules.add_column(column)
    for r in result.rules:
        rules.add_row(
            r.rule_id,
            str(r.count),
            f"{r.raw_total:+g}",
            f"{r.total:+g}" + (" (capped)" if r.capped else ""),
        )
    out.print(rules)
    skipped = Table(title="Records that did not count")
    for column in ("record", "code", "date", "rule", "why not"):
        skipped.add_column(column)
    for c in result.records:
        if not c.counted:
            skipped.add_row(
                c.record.key, c.record.code, str(c.record.occurred_at), c.rule_id, c.reason
            )
    for record, reason in result.ignored:
        skipped.add_row(record.key, record.code, str(record.occurred_at), "-", reason)
    out.print(skipped)
    if result.peer is not None:
        print_peer(result.peer, result.peer_points)
    peer_text = f" + peer {result.peer_points:g}" if result.peer is not None else ""
    out.print(
        f"base {result.base:g}{peer_text} + rule totals = {result.raw_score:g}; after "
        f"floor/ceiling {result.clamped_score:g}; rounded {s.score:g} -> grade "
        f"{result.score_grade}"
    )
    for rule_id, grade in result.assignments:
        out.print(f"grade: rule {rule_id} has a counting record: grade {grade} in its place")
    for rule_id, grade in result.vetoes:
        out.print(f"veto: rule {rule_id} has a counting record: grade no better than {grade}")
    out.print(
        f"grade {s.grade}; lists: {', '.join(s.lists) or '-'}; measures: "
        f"{', '.join(s.measures) or '-'}"
    )


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
