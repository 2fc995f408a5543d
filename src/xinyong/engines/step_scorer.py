"""A scheme scored at many dates: the lab's use of the engine.

The lab scores each scheme at every step of its horizon (60 times for 5 years by month). It runs
the scheme's SQL compiled once (:mod:`xinyong.engines.compiled_sql`, the same SQL as
:func:`xinyong.engines.duckdb.score_table`), in ledger mode (every subject scored), bound to
each step's date. A peer scheme's scores come in as a table computed by the caller
(:mod:`xinyong.peer.algorithms`), as the engine does.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from xinyong.engines.compiled_sql import PEER_TABLE, RECORDS_TABLE, SUBJECTS_TABLE, scheme_sql
from xinyong.engines.duckdb import run_sql
from xinyong.schemes.model import Scheme

__all__ = ["StepScorer"]


class StepScorer:
    """Score one scheme over Arrow records and subjects at any date."""

    def __init__(self, scheme: Scheme, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.scheme = scheme
        self.peer = scheme.peer is not None
        self.con = con or duckdb.connect()

    def score(
        self,
        records: pa.Table,
        subjects: pa.Table,
        as_of: date,
        peer: pa.Table | None = None,
    ) -> pa.Table:
        """Standings (``subject_id, score, grade, lists, measures``) as of ``as_of``; a peer
        scheme also needs its peer scores (``subject_id, peer_score``) as of that date."""
        if self.peer != (peer is not None):
            raise ValueError("a peer table goes with a peer scheme, only")
        tables = {RECORDS_TABLE: records, SUBJECTS_TABLE: subjects}
        if peer is not None:
            tables[PEER_TABLE] = peer
        return run_sql(self.con, scheme_sql(self.scheme, as_of, ledger=True), tables)
