"""Running compiled schemes on DuckDB (the embedded, single-machine batch engine)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.peer_records import PEER_CODES
from xinyong.peer.algorithms import compute_peer_scores
from xinyong.peer.graph import graph_from_table
from xinyong.schemes.compile import compile_scheme, compile_unbound
from xinyong.schemes.model import Scheme

__all__ = ["connect", "read_parquet", "score_expr", "score_many", "score_table", "to_sql"]


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

    A scheme with ``[peer]`` first gets its peer scores from the vectorized algorithms.
    """
    con = con or connect()
    # In-memory tables are scanned where they are (Arrow), not copied into DuckDB first.
    table = ibis.memtable(records)
    subject_table: ir.Table | None = None
    if subjects is not None:
        subject_table = ibis.memtable(subjects)
    peer_table: ir.Table | None = None
    if scheme.peer is not None:
        graph = graph_from_table(scheme.peer, records, scheme.subject_kinds, as_of)
        peer_table = ibis.memtable(compute_peer_scores(scheme.peer, graph).table())
    expr = compile_scheme(scheme, table, as_of, subject_table, peer_table)
    result: pa.Table = con.to_pyarrow(expr)
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
    con = con or connect()
    table = ibis.memtable(records)
    subject_table = ibis.memtable(subjects) if subjects is not None else None
    parts = []
    for index, scheme in enumerate(schemes):
        peer_table: ir.Table | None = None
        if scheme.peer is not None:
            graph = graph_from_table(scheme.peer, records, scheme.subject_kinds, as_of)
            peer_table = ibis.memtable(compute_peer_scores(scheme.peer, graph).table())
        standings = compile_scheme(scheme, table, as_of, subject_table, peer_table)
        parts.append(standings.mutate(scheme_index=ibis.literal(index, type="int32")))
    result: pa.Table = con.to_pyarrow(ibis.union(*parts, distinct=False))
    index_column = result.column("scheme_index")
    standings_only = result.drop_columns(["scheme_index"])
    return [
        standings_only.filter(pc.equal(index_column, index)).sort_by("subject_id")
        for index in range(len(schemes))
    ]


def read_parquet(con: ibis.BaseBackend, paths: Sequence[Path]) -> ir.Table:
    """Parquet files as one table DuckDB scans in place, in parallel, reading only used columns."""
    return con.read_parquet([str(p) for p in paths])


def score_expr(con: ibis.BaseBackend, scheme: Scheme, records: ir.Table, as_of: date) -> pa.Table:
    """Standings of ``scheme`` over a table DuckDB scans (records-file mode).

    A scheme with ``[peer]`` reads only the rating records out for the peer algorithms.
    """
    peer_table: ir.Table | None = None
    if scheme.peer is not None:
        ratings = con.to_pyarrow(records.filter(records.code.isin(list(PEER_CODES))))
        graph = graph_from_table(scheme.peer, ratings, scheme.subject_kinds, as_of)
        peer_table = ibis.memtable(compute_peer_scores(scheme.peer, graph).table())
    result: pa.Table = con.to_pyarrow(compile_scheme(scheme, records, as_of, None, peer_table))
    return result


def to_sql(scheme: Scheme, as_of: date, dialect: str) -> str:
    """The SQL of a scheme for ``dialect`` (``duckdb``, ``postgres``...) over unbound tables."""
    return str(ibis.to_sql(compile_unbound(scheme, as_of), dialect=dialect))
