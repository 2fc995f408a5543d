"""Running compiled schemes on DuckDB (the embedded, single-machine batch engine)."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from xinyong.peer.algorithms import compute_peer_scores
from xinyong.peer.graph import graph_from_table
from xinyong.schemes.compile import compile_scheme
from xinyong.schemes.model import Scheme

__all__ = ["connect", "score_table", "to_sql"]


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


def to_sql(scheme: Scheme, as_of: date, dialect: str) -> str:
    """The SQL of a scheme for ``dialect`` (``duckdb``, ``postgres``...) over unbound tables."""
    records = ibis.table(
        {
            "subject_id": "string",
            "subject_kind": "string",
            "code": "string",
            "occurred_at": "date",
            "case_id": "string",
            "attrs": "string",
        },
        name="records",
    )
    peer = None
    if scheme.peer is not None:
        peer = ibis.table({"subject_id": "string", "peer_score": "float64"}, name="peer_scores")
    return str(ibis.to_sql(compile_scheme(scheme, records, as_of, None, peer), dialect=dialect))
