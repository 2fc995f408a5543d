"""Scoring a whole population with any engine, from a records file or an Arrow table (the
ledger's own: :mod:`xinyong.scoring.ledger_run`).

Ibis, the engines built on it, the reference evaluator and the ledger are imported where they
are used: scoring a Parquet file with a scheme version compiled before needs none of them
(:mod:`xinyong.engines.duckdb_scan`), and ``xinyong score --records`` starts without them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from xinyong.domain.catalog import Catalog
from xinyong.domain.record_table import RecordsFileError, input_records
from xinyong.engines.duckdb_scan import score_scan
from xinyong.engines.spark_settings import SparkSettings
from xinyong.schemes.model import Scheme
from xinyong.scoring.as_ingested import displayed, named_subjects
from xinyong.scoring.records_file import parquet_files, read_records_file, scans_in_place
from xinyong.scoring.standing import Standing

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from xinyong.engines.spark import SparkEngine

__all__ = [
    "STANDINGS_SCHEMA",
    "Engine",
    "SparkSettings",
    "score_arrow",
    "score_file",
    "score_to_directory",
    "spark_session",
    "standings_from_table",
    "standings_table",
]

STANDINGS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.string()),
        ("score", pa.float64()),
        ("grade", pa.string()),
        ("lists", pa.string()),
        ("measures", pa.string()),
    ]
)


class Engine(StrEnum):
    """``duckdb``: the compiled expression on DuckDB; ``python``: the reference evaluator;
    ``postgres``: the compiled expression inside the PostgreSQL ledger (ledger mode only);
    ``spark``: the compiled expression on Spark (the ``spark`` extra)."""

    DUCKDB = "duckdb"
    PYTHON = "python"
    POSTGRES = "postgres"
    SPARK = "spark"


def spark_session(settings: SparkSettings | None) -> SparkEngine:
    """This process's Spark engine; a clear error when PySpark is not installed."""
    if importlib.util.find_spec("pyspark") is None:
        raise ValueError("the spark engine needs PySpark: pip install 'xinyong[spark]'")
    from xinyong.engines.spark import spark_engine

    return spark_engine(settings)


def standings_table(rows: Sequence[Standing]) -> pa.Table:
    """Standings as the output table (sorted by subject id)."""
    ordered = sorted(rows, key=lambda s: s.subject_id)
    return pa.Table.from_pylist([s.row() for s in ordered], schema=STANDINGS_SCHEMA)


def standings_from_table(table: pa.Table) -> list[Standing]:
    """The inverse of :func:`standings_table`."""
    return [
        Standing(
            r["subject_id"],
            float(r["score"]),
            r["grade"],
            tuple(x for x in r["lists"].split(";") if x),
            tuple(x for x in r["measures"].split(";") if x),
        )
        for r in table.to_pylist()
    ]


def score_arrow(
    scheme: Scheme,
    records: pa.Table,
    as_of: date,
    engine: Engine,
    subjects: pa.Table | None = None,
    origin: Path | None = None,
    spark: SparkSettings | None = None,
) -> pa.Table:
    """Score an Arrow table of records (and registered subjects in ledger mode)."""
    if engine is Engine.POSTGRES:
        raise ValueError("the postgres engine scores the ledger in place: use --db URL")
    if engine is Engine.DUCKDB:
        from xinyong.engines.duckdb import score_table

        result = score_table(scheme, records, as_of, subjects)
        return result.cast(STANDINGS_SCHEMA)
    if engine is Engine.SPARK:
        from xinyong.engines.spark import score_table as spark_score_table

        result = spark_score_table(spark_session(spark), scheme, records, as_of, subjects)
        return result.cast(STANDINGS_SCHEMA)
    from xinyong.scoring.reference import score_records

    inputs = list(input_records(origin or Path("<records>"), records))
    chosen = None
    if subjects is not None:
        chosen = {
            s["subject_id"]: s["kind"]
            for s in subjects.to_pylist()
            if s["kind"] in scheme.subject_kinds
        }
    return standings_table(score_records(scheme, inputs, as_of, chosen))


def score_file(
    scheme: Scheme,
    path: Path,
    as_of: date,
    engine: Engine,
    spark: SparkSettings | None = None,
    catalog: Catalog | None = None,
) -> pa.Table:
    """Score a records file (CSV, Parquet, JSON Lines) or a directory of Parquet files as if it
    had been ingested (:mod:`xinyong.scoring.as_ingested`): the records ``catalog`` still shows
    on ``as_of``, every subject the file names.

    The batch engines scan Parquet in place (DuckDB: :mod:`xinyong.engines.duckdb_scan`; Spark:
    :mod:`xinyong.scoring.records_scan`); everything else is read into Arrow first.
    """
    if engine is Engine.DUCKDB and scans_in_place(path):
        return score_scan(scheme, path, parquet_files(path), as_of, catalog).cast(STANDINGS_SCHEMA)
    if engine is Engine.SPARK and scans_in_place(path):
        return _score_scan(scheme, path, as_of, spark, catalog)
    table = read_records_file(path)
    shown = displayed(table, as_of, catalog)
    subjects = named_subjects(table)
    return score_arrow(scheme, shown, as_of, engine, subjects, origin=path, spark=spark)


def score_to_directory(
    scheme: Scheme,
    path: Path,
    as_of: date,
    out: Path,
    spark: SparkSettings | None = None,
    catalog: Catalog | None = None,
) -> int:
    """Score Parquet records on Spark and let the executors write the standings to ``out`` as
    Parquet files (replacing it); return the number of standings.

    Nothing is collected to the driver, so the population is bounded by the cluster, not by one
    process's memory. The files are not sorted.
    """
    if not scans_in_place(path):
        raise ValueError(f"{path}: standings written by Spark need Parquet records")
    if out.exists() and any(out.iterdir()) and not (out / "_SUCCESS").exists():
        # Spark replaces the directory: never one that is not an earlier output of its own.
        raise ValueError(f"--out {out}: not empty and not an earlier Spark output; not replaced")
    from xinyong.engines.spark import write_standings
    from xinyong.scoring.as_ingested import displayed_expr, named_subjects_expr

    session = spark_session(spark)
    with session.views():
        records = _scanned(session, path)
        shown = displayed_expr(records, as_of, catalog)
        write_standings(session, scheme, shown, as_of, out, named_subjects_expr(records))
    return sum(pq.ParquetFile(file).metadata.num_rows for file in parquet_files(out))


def _score_scan(
    scheme: Scheme,
    path: Path,
    as_of: date,
    spark: SparkSettings | None,
    catalog: Catalog | None,
) -> pa.Table:
    """Standings of Parquet records on Spark, scanned in place (the engine-neutral scan)."""
    from xinyong.engines.spark import score_expr as spark_score_expr
    from xinyong.scoring.as_ingested import displayed_expr, named_subjects_expr

    session = spark_session(spark)
    with session.views():
        records = _scanned(session, path)
        shown = displayed_expr(records, as_of, catalog)
        subjects = named_subjects_expr(records)
        result = spark_score_expr(session, scheme, shown, as_of, subjects)
    return result.cast(STANDINGS_SCHEMA)


def _scanned(session: SparkEngine, path: Path) -> ir.Table:
    """The Parquet dataset ``path`` on Spark, normalised and checked (the engine-neutral scan);
    refused, naming it, when Spark cannot read it."""
    from xinyong.engines.spark import UnreadableFiles
    from xinyong.scoring.records_scan import check_records, normalised_records

    try:
        raw = session.read_parquet(parquet_files(path))
    except UnreadableFiles as exc:
        raise RecordsFileError(f"{path}: not readable: {exc}") from exc
    records = normalised_records(path, raw)
    check_records(path, records, session.to_arrow)
    return records
