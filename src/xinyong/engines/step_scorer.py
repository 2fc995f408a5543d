"""A scheme compiled once to DuckDB SQL, scored at many dates: the lab's use of the engine.

``xinyong score`` compiles a scheme (to an Ibis expression, then to SQL) for every run; that
takes about 0.3 s, longer than DuckDB needs to score a small population. The lab scores each
scheme at every step of its horizon (60 times for 5 years by month), so it compiles the scheme
once, with the as-of date as a query parameter, and runs the same SQL each step: the same
compiled expression as :func:`xinyong.engines.duckdb.score_table`, in ledger mode (every
subject scored), executed by DuckDB. A peer scheme's scores come in as a table computed by the
caller (:mod:`xinyong.peer.algorithms`), as the engine does.

The date is bound by replacing the compiled literal of a sentinel date, which must occur in the
SQL (it does wherever the scheme reads the date); a scheme whose SQL does not contain it would
be scored wrongly, so that is an error, never a silent fallback.
"""

from __future__ import annotations

from datetime import date

import duckdb
import ibis
import pyarrow as pa

from xinyong.schemes.compile import compile_scheme
from xinyong.schemes.model import Scheme

__all__ = ["StepScorer"]

_SENTINEL = date(2999, 12, 30)
_SENTINEL_SQL = "MAKE_DATE(2999, 12, 30)"


class StepScorer:
    """Score one scheme over Arrow records and subjects at any date."""

    def __init__(self, scheme: Scheme, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.peer = scheme.peer is not None
        records = ibis.table(
            {
                "subject_id": "string",
                "subject_kind": "string",
                "code": "string",
                "occurred_at": "date",
                "case_id": "string",
                "attrs": "string",
            },
            name="lab_records",
        )
        subjects = ibis.table({"subject_id": "string", "kind": "string"}, name="lab_subjects")
        peer = None
        if self.peer:
            peer = ibis.table({"subject_id": "string", "peer_score": "float64"}, name="lab_peer")
        expr = compile_scheme(scheme, records, _SENTINEL, subjects, peer)
        sql = str(ibis.to_sql(expr, dialect="duckdb"))
        if _SENTINEL_SQL not in sql:
            raise ValueError(f"scheme {scheme.id}: the as-of date is not in its compiled SQL")
        self.sql = sql.replace(_SENTINEL_SQL, "CAST($as_of AS DATE)")
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
        tables = {"lab_records": records, "lab_subjects": subjects}
        if peer is not None:
            tables["lab_peer"] = peer
        for name, table in tables.items():
            self.con.register(name, table)
        try:
            return self.con.sql(self.sql, params={"as_of": as_of}).to_arrow_table()
        finally:
            for name in tables:
                self.con.unregister(name)
