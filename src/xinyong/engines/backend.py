"""What the batch engines have in common, and the steps written once over it.

DuckDB, PostgreSQL and Spark run the same compiled expression (:mod:`xinyong.schemes.compile`);
they differ only in how an Arrow table becomes one of their tables and how a result comes back
as Arrow: :class:`Backend`. Everything else is shared, in particular the peer-score step of a
scheme with ``[peer]``: only the interaction and rating records leave the engine, the rating
graph is iterated in NumPy (:mod:`xinyong.peer.algorithms`), and the peer scores go back in as a
small table that the compiled expression joins.

The Python reference evaluator (``--engine python``, :mod:`xinyong.scoring.reference`) is not a
backend on purpose: it shares neither the compiled expression nor the vectorized peer step, so
that tests can hold these to an independent computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.engines.peer_step import peer_scores_of
from xinyong.schemes.compile import compile_scheme
from xinyong.schemes.model import Scheme

__all__ = ["Backend", "IbisBackend", "peer_scores_arrow", "peer_scores_table", "standings_expr"]


class Backend(Protocol):
    """An engine that runs Ibis expressions: Arrow tables in, results out as Arrow."""

    def from_arrow(self, table: pa.Table) -> ir.Table:
        """An Arrow table as a table this engine can query."""
        ...

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        """Run an expression and return its result as Arrow."""
        ...


@dataclass(frozen=True, slots=True)
class IbisBackend:
    """DuckDB or PostgreSQL through an Ibis connection.

    Arrow tables go in as Ibis memtables: DuckDB scans them where they are; PostgreSQL loads
    them as temporary tables when a query that reads them runs.
    """

    con: ibis.BaseBackend

    def from_arrow(self, table: pa.Table) -> ir.Table:
        """An in-memory table (registered with the connection when a query uses it)."""
        return ibis.memtable(table)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        """Run ``expr`` on the connection."""
        result: pa.Table = self.con.to_pyarrow(expr)
        return result


def peer_scores_arrow(
    backend: Backend, scheme: Scheme, records: ir.Table, as_of: date
) -> pa.Table | None:
    """The peer scores (``subject_id, peer_score``) of a scheme with ``[peer]``, as Arrow; None
    for a scheme without."""
    if scheme.peer is None:
        return None
    peer_records = records.filter(records.code.isin(list(PEER_CODES))).select(*RECORDS_SCHEMA.names)
    return peer_scores_of(scheme, backend.to_arrow(peer_records), as_of)


def peer_scores_table(
    backend: Backend, scheme: Scheme, records: ir.Table, as_of: date
) -> ir.Table | None:
    """:func:`peer_scores_arrow` as a table of ``backend``."""
    scores = peer_scores_arrow(backend, scheme, records, as_of)
    return None if scores is None else backend.from_arrow(scores)


def standings_expr(
    backend: Backend,
    scheme: Scheme,
    records: ir.Table,
    as_of: date,
    subjects: ir.Table | None = None,
    *,
    ordered: bool = True,
) -> ir.Table:
    """The standings of ``scheme`` over tables of ``backend``, peer scores computed first.

    ``subjects`` (ledger mode) scores every registered subject; ``ordered`` as in
    :func:`~xinyong.schemes.compile.compile_scheme`.
    """
    peer = peer_scores_table(backend, scheme, records, as_of)
    return compile_scheme(scheme, records, as_of, subjects, peer, ordered=ordered)
