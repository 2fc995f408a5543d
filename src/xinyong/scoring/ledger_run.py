"""Scoring the ledger: every registered subject over the effective records, as the ledger
stood at a size (:mod:`xinyong.scoring.ledger_source`), with any engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa
from sqlalchemy import Connection

from xinyong.domain.catalog import Catalog
from xinyong.engines.spark_settings import SparkSettings, jdbc_jar
from xinyong.ledger.append import TreeHead, read_checkpoint, read_head
from xinyong.schemes.model import Scheme
from xinyong.scoring.ledger_source import effective_table, subjects_table
from xinyong.scoring.run import STANDINGS_SCHEMA, Engine, score_arrow, spark_session

__all__ = ["score_ledger", "score_ledger_all"]


def score_ledger(
    conn: Connection,
    scheme: Scheme,
    as_of: date,
    engine: Engine,
    catalog: Catalog | None,
    known_at: int | None = None,
    spark: SparkSettings | None = None,
) -> tuple[pa.Table, TreeHead]:
    """Score every registered subject over the effective records; return the head used.

    On Spark, a PostgreSQL ledger is read over JDBC when the driver jar is available
    (:func:`xinyong.engines.spark.jdbc_jar`); otherwise the effective records are read here and
    handed to Spark as Arrow.
    """
    head = read_head(conn)
    if known_at is not None and known_at != head.size:
        past = read_checkpoint(conn, known_at)
        if past is None:
            raise ValueError(f"--known-at {known_at}: no checkpoint has that size")
        head = past
    if engine is Engine.POSTGRES:
        from xinyong.engines.postgres import score_in_database

        url = conn.engine.url.render_as_string(hide_password=False)
        table = score_in_database(url, scheme, as_of, head.size, catalog)
        # PostgreSQL orders text by the database's collation; standings go in code point order.
        return table.cast(STANDINGS_SCHEMA).sort_by("subject_id"), head
    if engine is Engine.SPARK and conn.dialect.name == "postgresql":
        session = spark_session(spark)
        from xinyong.engines.spark import score_ledger_jdbc

        if jdbc_jar() is not None:
            url = conn.engine.url.render_as_string(hide_password=False)
            table = score_ledger_jdbc(session, url, scheme, as_of, head.size, catalog)
            return table.cast(STANDINGS_SCHEMA), head
    records = effective_table(conn, as_of, head.size, catalog)
    subjects = subjects_table(conn, head.size)
    return score_arrow(scheme, records, as_of, engine, subjects, spark=spark), head


def score_ledger_all(
    conn: Connection,
    schemes: Sequence[Scheme],
    as_of: date,
    catalog: Catalog | None,
    known_at: int,
) -> list[pa.Table]:
    """Every scheme's standings over the ledger as known at ``known_at``, in one pass.

    The effective records and the subjects are read from the ledger once, and DuckDB scores
    all the schemes over them in one query (:func:`xinyong.engines.duckdb.score_many`), rather
    than reading the ledger and planning a query once per scheme.
    """
    records = effective_table(conn, as_of, known_at, catalog)
    subjects = subjects_table(conn, known_at)
    from xinyong.engines.duckdb import score_many

    results = score_many(schemes, records, as_of, subjects)
    return [result.cast(STANDINGS_SCHEMA) for result in results]
