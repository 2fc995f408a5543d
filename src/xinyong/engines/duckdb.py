"""Running compiled schemes on DuckDB (the embedded, single-machine batch engine)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.engines.backend import IbisBackend, peer_scores_arrow, standings_expr
from xinyong.engines.compiled_sql import PEER_TABLE, RECORDS_TABLE, SUBJECTS_TABLE, scheme_sql
from xinyong.engines.duckdb_scan import literal_path
from xinyong.schemes.compile import compile_unbound
from xinyong.schemes.model import Scheme

__all__ = [
    "connect",
    "read_parquet",
    "run_sql",
    "score_expr",
    "score_many",
    "score_table",
    "to_sql",
]


def connect(threads: int | None = None) -> ibis.BaseBackend:
    """An in-memory DuckDB connection through Ibis."""
    con = ibis.duckdb.connect()
    if threads is not None:
        con.raw_sql(f"SET threads = {int(threads)}")
    return con


def score_table(
    scheme: Scheme,
    records: pa.Table,
    as_of: date,
    subjects: pa.Table | None = None,
    con: ibis.BaseBackend | None = None,
) -> pa.Table:
    """Standings of ``scheme`` over an Arrow table of records (and subjects in ledger mode).

    The scheme's SQL is compiled once per scheme version (:mod:`xinyong.engines.compiled_sql`)
    and runs over the Arrow tables where they are. A scheme with ``[peer]`` first gets its peer
    scores from the vectorized algorithms.
    """
    backend = IbisBackend(con or connect())
    raw = backend.con.con  # the DuckDB connection under Ibis's
    tables: dict[str, pa.Table] = {RECORDS_TABLE: records}
    if subjects is not None:
        tables[SUBJECTS_TABLE] = subjects
    peer = peer_scores_arrow(backend, scheme, ibis.memtable(records), as_of)
    if peer is not None:
        tables[PEER_TABLE] = peer
    return run_sql(raw, scheme_sql(scheme, as_of, ledger=subjects is not None), tables)


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    """Run ``sql`` over Arrow tables registered under their names for the query only."""
    try:
        for name, table in tables.items():
            con.register(name, table)
        result: pa.Table = con.sql(sql).to_arrow_table()
    finally:
        for name in tables:
            con.unregister(name)
    return result


def score_many(
    schemes: Sequence[Scheme],
    records: pa.Table,
    as_of: date,
    subjects: pa.Table | None = None,
    con: ibis.BaseBackend | None = None,
) -> list[pa.Table]:
    """Standings of several schemes over the same records, in one query: a batch refresh.

    Every scheme's expression reads the same Arrow table, registered with DuckDB once and
    scanned where it is; the expressions run as a single ``UNION ALL`` (tagged with the
    scheme's index and split afterwards), so DuckDB plans and schedules them together instead
    of once per scheme.
    """
    if not schemes:
        return []
    backend = IbisBackend(con or connect())
    table = backend.from_arrow(records)
    subject_table = backend.from_arrow(subjects) if subjects is not None else None
    parts = [
        standings_expr(backend, scheme, table, as_of, subject_table).mutate(
            scheme_index=ibis.literal(index, type="int32")
        )
        for index, scheme in enumerate(schemes)
    ]
    result = backend.to_arrow(ibis.union(*parts, distinct=False))
    index_column = result.column("scheme_index")
    standings_only = result.drop_columns(["scheme_index"])
    return [
        standings_only.filter(pc.equal(index_column, index)).sort_by("subject_id")
        for index in range(len(schemes))
    ]


def read_parquet(con: ibis.BaseBackend, paths: Sequence[Path]) -> ir.Table:
    """Parquet files as one table DuckDB scans in place, in parallel, reading only used columns
    (read as :func:`~xinyong.engines.duckdb_scan.parquet_source` reads them)."""
    return con.read_parquet(
        [literal_path(str(p)) for p in paths], union_by_name=True, hive_partitioning=False
    )


def score_expr(
    con: ibis.BaseBackend,
    scheme: Scheme,
    records: ir.Table,
    as_of: date,
    subjects: ir.Table | None = None,
) -> pa.Table:
    """Standings of ``scheme`` over a table DuckDB scans (records-file mode), of ``subjects``
    if given (``subject_id, kind``).

    A scheme with ``[peer]`` reads only the rating records out for the peer algorithms.
    """
    backend = IbisBackend(con)
    return backend.to_arrow(standings_expr(backend, scheme, records, as_of, subjects))


def to_sql(scheme: Scheme, as_of: date, dialect: str) -> str:
    """The SQL of a scheme for ``dialect`` (``duckdb``, ``postgres``...) over unbound tables."""
    return str(ibis.to_sql(compile_unbound(scheme, as_of), dialect=dialect))
