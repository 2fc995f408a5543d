"""Scoring Parquet records where they lie on DuckDB, in SQL written once, without Ibis.

This is the path ``xinyong score --records FILE.parquet`` takes on DuckDB. It gives what the
engine-neutral scan (:mod:`xinyong.scoring.records_scan` and
:func:`~xinyong.scoring.as_ingested.displayed_expr`, which Spark runs) gives: the same standings
for a clean dataset, the same refusal, with the same message, for a bad one. A hypothesis test
holds the two equal. It differs in how the work is arranged:

- the row checks first count, on the columns as stored, the rows that may fail one, which
  DuckDB answers for a clean Parquet file mostly from its statistics (it reads the small,
  dictionary-encoded kind column, and text dates); the checks are counted row by row only when
  a row may fail;
- the one-kind-per-subject rule and the list of subjects the file names are one aggregate
  grouped by subject, whose result the scheme's SQL then reads as its subjects (the
  engine-neutral scan counts in one pass and groups in two more);
- the scheme's SQL is the version's cached SQL (:mod:`xinyong.engines.compiled_sql`), so a warm
  process imports neither Ibis nor sqlglot;
- the record ids are read only when a check fails, to name the first failing one.

Subject ids are held to the reading path's rule (:mod:`xinyong.domain.id_columns`): when some
id the dataset names is not written canonically, the ids that need it are mapped to their
canonical form in the scan (and the subjects grouped again), and an id that has none refuses the
dataset, naming it. Spark's scan does not canonicalise yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import NoReturn

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.catalog import Catalog
from xinyong.domain.id_columns import RefusedId, all_canonical, canonical_id_column
from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.record_table import (
    CHECKS,
    MIXED_KINDS,
    RECORDS_SCHEMA,
    REQUIRED,
    RecordsFileError,
)
from xinyong.domain.records import SUBJECT_KINDS
from xinyong.engines.compiled_sql import PEER_TABLE, RECORDS_TABLE, SUBJECTS_TABLE, scheme_sql
from xinyong.engines.peer_step import peer_scores_of
from xinyong.schemes.model import Scheme

__all__ = ["literal_path", "parquet_source", "score_scan"]

_SPELLINGS = "xinyong_id_spellings"
_BLANKS = " \t\n\r\x0b\x0c"
"""What the engine-neutral scan strips (Ibis's ``strip`` on DuckDB)."""
_BLANK = "(" + " || ".join(f"chr({ord(c)})" for c in _BLANKS) + ")"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _blank(column: str) -> str:
    """``column`` is NULL or only blanks. A blank value is empty or starts with a blank, and
    every blank sorts before ``!``: the trim runs only on the rare value that does (a ``CASE``
    evaluates a branch for its own rows only; ``AND`` in an aggregate's filter evaluates both
    sides for every row), and the comparison reads the value in place."""
    return (
        f"(CASE WHEN {column} < '!' THEN trim({column}, {_BLANK}) = '' ELSE {column} IS NULL END)"
    )


def _normalised(source: str, types: dict[str, str]) -> str:
    """The scan in the records shape, cleaned as :func:`records_scan.normalised_records` does."""

    def text(name: str) -> str:
        return f"CAST({_ident(name)} AS VARCHAR)" if name in types else "CAST(NULL AS VARCHAR)"

    occurred = _occurred_at(types)
    attrs = text("attrs")
    return (
        f"SELECT {text('record_id')} AS record_id, {text('source')} AS source, "
        f"{text('subject_id')} AS subject_id, {text('subject_kind')} AS subject_kind, "
        f"{text('code')} AS code, {occurred} AS occurred_at, "
        f"NULLIF({text('case_id')}, '') AS case_id, "
        f"CASE WHEN {_blank(attrs)} THEN '{{}}' ELSE {attrs} END"
        f" AS attrs FROM {source}"
    )


def _occurred_at(types: dict[str, str]) -> str:
    """``occurred_at`` as a date: a date or timestamp column cast, text read as YYYY-MM-DD
    (as a records file is read: DuckDB's cast alone takes more, such as ``infinity``)."""
    kind = types["occurred_at"].upper()
    if kind.startswith("TIMESTAMP"):
        return "CAST(occurred_at AS DATE)"
    if kind == "DATE":
        return "occurred_at"
    spelled = "CAST(occurred_at AS VARCHAR)"
    return (
        f"CASE WHEN regexp_full_match({spelled}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
        f"THEN TRY_CAST({spelled} AS DATE) END"
    )


def _displayed(scan: str, as_of: date, catalog: Catalog | None) -> str:
    """The records the catalog still shows on ``as_of`` (:func:`as_ingested.displayed_expr`)."""
    if catalog is None:
        return scan
    hidden = [
        f"(code IN ({', '.join(_quote(c) for c in codes)}) AND occurred_at <= "
        f"DATE '{(as_of - timedelta(days=days)).isoformat()}')"
        for days, codes in catalog.codes_by_max_display()
    ]
    if not hidden:
        return scan
    return f"SELECT * FROM ({scan}) WHERE NOT coalesce({' OR '.join(hidden)}, false)"


def _failing() -> list[str]:
    """One condition per entry of :data:`records_scan.CHECKS`, true for a row that fails it."""
    kinds = ", ".join(_quote(k) for k in SUBJECT_KINDS)
    return [
        _blank("subject_id"),
        _blank("code"),
        f"NOT coalesce(subject_kind IN ({kinds}), false)",
        "occurred_at IS NULL",
    ]


def _suspect(types: dict[str, str]) -> str:
    """A condition on the dataset's own columns that every row failing a check of
    :func:`_failing` meets (some rows that pass may meet it too).

    Written on the columns as stored, so that DuckDB can decide most of it for a whole row
    group from the Parquet statistics (a kind not in the list, and a text date, it reads).
    A blank value is NULL or sorts before ``!``, as :func:`_blank` says; a date that is not NULL
    as stored is not NULL as a date, unless it is text that must be read as one."""
    kinds = ", ".join(_quote(k) for k in SUBJECT_KINDS)

    def text(name: str) -> str:
        return (
            _ident(name) if types[name].upper() == "VARCHAR" else f"CAST({_ident(name)} AS VARCHAR)"
        )

    kind = types["occurred_at"].upper()
    dated = kind == "DATE" or kind.startswith("TIMESTAMP")  # NULL as a date only when NULL
    undated = "occurred_at IS NULL" if dated else f"({_occurred_at(types)}) IS NULL"
    subject, code, subject_kind = text("subject_id"), text("code"), text("subject_kind")
    return (
        f"{subject} IS NULL OR {subject} < '!' OR {code} IS NULL OR {code} < '!' "
        f"OR {subject_kind} IS NULL OR {subject_kind} NOT IN ({kinds}) OR {undated}"
    )


def _check_rows(
    path: Path, con: duckdb.DuckDBPyConnection, source: str, types: dict[str, str], scan: str
) -> None:
    """Refuse the dataset, as the engine-neutral scan refuses it, when rows fail a check (the
    record ids are read only then, to name the first failing ones). The rows are counted only
    when some row group may hold a failing row (:func:`_suspect`)."""
    if not con.sql(f"SELECT count(*) FROM {source} WHERE {_suspect(types)}").fetchall()[0][0]:
        return
    failing = _failing()
    counts = ", ".join(f"count(*) FILTER (WHERE {c})" for c in failing)
    found = [int(n) for n in con.sql(f"SELECT {counts} FROM ({scan})").fetchall()[0]]
    if any(found):
        _refuse_rows(path, con, scan, failing, found)


def _subjects(path: Path, con: duckdb.DuckDBPyConnection, scan: str) -> pa.Table:
    """Every subject the dataset names, with its kind (``subject_id, kind``); the dataset
    refused when a subject is named with two kinds. The rows have passed the checks."""
    grouped = con.sql(
        "SELECT subject_id, CASE WHEN bool_or(subject_kind = 'person') THEN 'person' "
        "ELSE 'organization' END AS kind, bool_or(subject_kind = 'person') "
        "AND bool_or(subject_kind = 'organization') AS mixed "
        f"FROM ({scan}) GROUP BY subject_id"
    ).to_arrow_table()
    both = grouped.column("mixed")
    mixed = pc.sum(both).as_py() or 0
    if mixed:
        first = pc.min(grouped.column("subject_id").filter(both)).as_py()
        raise RecordsFileError(f"{path}: " + MIXED_KINDS.format(count=mixed, first=first))
    return grouped.select(["subject_id", "kind"])


def _refuse_rows(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    scan: str,
    failing: list[str],
    found: list[int],
) -> NoReturn:
    """Refuse the dataset whose rows fail the checks ``found`` counts, naming each check's
    first failing record id."""
    firsts = ", ".join(
        f"min(record_id) FILTER (WHERE {c})" for c, n in zip(failing, found, strict=True) if n
    )
    first = iter(con.sql(f"SELECT {firsts} FROM ({scan})").fetchall()[0])
    messages = []
    for check, count in zip(CHECKS, found, strict=True):
        if count:
            record_id = next(first)
            where = f" (first record_id {record_id})" if record_id is not None else ""
            messages.append(f"{check}: {count:,} row(s){where}")
    raise RecordsFileError(f"{path}: " + "; ".join(messages))


def parquet_source(files: Sequence[Path]) -> str:
    """``read_parquet`` over ``files`` as a dataset is meant: columns by name across the files
    (a column only later files have is not dropped), no partition columns guessed from folder
    names, and the paths taken literally (a ``*`` or ``?`` in a name is not a pattern)."""
    paths = ", ".join(_quote(literal_path(str(p))) for p in files)
    return f"read_parquet([{paths}], union_by_name = true, hive_partitioning = false)"


def literal_path(path: str) -> str:
    """A path DuckDB reads as written: its glob characters in brackets."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


def _canonicalised(
    path: Path, con: duckdb.DuckDBPyConnection, scan: str, ids: pa.ChunkedArray
) -> str:
    """The scan with every subject id in canonical form, as ingest and the reading path give
    it; the dataset refused, naming the id, when one has none."""
    try:
        canonical = canonical_id_column(ids)
    except RefusedId as exc:
        raise RecordsFileError(
            f"{path}: subject_id {ids[exc.row].as_py()!r}: {exc.reason}"
        ) from None
    spelled = pc.not_equal(ids, canonical)
    mapping = pa.Table.from_arrays(
        [ids.filter(spelled), canonical.filter(spelled)], names=["spelled", "canonical"]
    )
    con.register(_SPELLINGS, mapping)
    return (
        f"SELECT s.* REPLACE (coalesce(m.canonical, s.subject_id) AS subject_id) "
        f"FROM ({scan}) AS s LEFT JOIN {_SPELLINGS} AS m ON m.spelled = s.subject_id"
    )


def score_scan(
    scheme: Scheme,
    path: Path,
    files: Sequence[Path],
    as_of: date,
    catalog: Catalog | None,
    threads: int | None = None,
) -> pa.Table:
    """Standings of ``scheme`` over Parquet ``files`` (the dataset ``path``) as if ingested."""
    con = duckdb.connect()
    try:
        # A timestamp with a time zone is read as a date in UTC, as the other engines read it.
        con.execute("SET TimeZone = 'UTC'")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        source = parquet_source(files)
        described = con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
        types = {name: str(kind) for name, kind, *_ in described}
        missing = [name for name in REQUIRED if name not in types]
        if missing:
            raise RecordsFileError(f"{path}: missing column(s) {', '.join(missing)}")
        scan = _normalised(source, types)
        _check_rows(path, con, source, types, scan)
        subjects = _subjects(path, con, scan)
        ids = subjects.column("subject_id")
        if not all_canonical(ids):  # rare: the ids that need it are mapped, then grouped again
            scan = _canonicalised(path, con, scan, ids)
            subjects = _subjects(path, con, scan)
        con.execute(f"CREATE TEMP VIEW {RECORDS_TABLE} AS {_displayed(scan, as_of, catalog)}")
        con.register(SUBJECTS_TABLE, subjects)
        if scheme.peer is not None:
            codes = ", ".join(_quote(c) for c in sorted(PEER_CODES))
            columns = ", ".join(RECORDS_SCHEMA.names)
            ratings = con.sql(
                f"SELECT {columns} FROM {RECORDS_TABLE} WHERE code IN ({codes})"
            ).to_arrow_table()
            con.register(PEER_TABLE, peer_scores_of(scheme, ratings, as_of))
        result: pa.Table = con.sql(scheme_sql(scheme, as_of, ledger=True)).to_arrow_table()
        return result
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # not Parquet, a damaged file, a value that cannot be read as its column's type
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecordsFileError(f"{path}: not readable: {first}") from exc
    finally:
        con.close()
