"""The reject log: which input rows were refused, for the operator's console.

Every ingest (a file through ``xinyong ingest``, a batch through ``POST /v1/records``) records
its rejects here with where they came from, the line (or the row's index in a batch), the field
and the reason. The rows' values are not stored: they may hold someone's personal data and are
wrong by definition; the submitter has them in ``FILE.rejects.csv`` or in the API's answer.

A huge bad file must not flood the table: at most :data:`MAX_PER_INGEST` rows are logged per
ingest, and one more row says how many were left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from xinyong.ingest.rejects import Reject
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.schema import ingest_rejects

__all__ = ["MAX_PER_INGEST", "LoggedReject", "log_rejects", "recent_rejects"]

MAX_PER_INGEST = 1_000


@dataclass(frozen=True, slots=True)
class LoggedReject:
    """One logged reject."""

    received_at: str
    origin: str
    source: str | None
    line: int
    field: str
    reason: str

    def json(self) -> dict[str, Any]:
        """As shown in the console's JSON twin."""
        return {
            "received_at": self.received_at,
            "origin": self.origin,
            "source": self.source,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
        }


def log_rejects(engine: Engine, origin: str, source: str | None, rejects: Sequence[Reject]) -> None:
    """Record an ingest's rejects (nothing when there are none)."""
    if not rejects:
        return
    now = utc_now_text()
    rows = [
        {
            "received_at": now,
            "origin": origin,
            "source": source,
            "line": r.line,
            "field": r.field,
            "reason": r.reason,
        }
        for r in rejects[:MAX_PER_INGEST]
    ]
    left_out = len(rejects) - MAX_PER_INGEST
    if left_out > 0:
        rows.append(
            {
                "received_at": now,
                "origin": origin,
                "source": source,
                "line": 0,
                "field": "(more)",
                "reason": f"{left_out:,} more rejects of this ingest are not logged here",
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(ingest_rejects), rows)


def recent_rejects(conn: Connection, limit: int = 100) -> tuple[int, list[LoggedReject]]:
    """(all logged rejects, the newest ``limit`` of them, newest first)."""
    total = int(conn.execute(select(func.count()).select_from(ingest_rejects)).scalar_one())
    r = ingest_rejects.c
    rows = conn.execute(
        select(r.received_at, r.origin, r.source, r.line, r.field, r.reason)
        .order_by(r.reject_id.desc())
        .limit(limit)
    ).all()
    return total, [
        LoggedReject(
            str(x.received_at), str(x.origin), x.source, int(x.line), str(x.field), str(x.reason)
        )
        for x in rows
    ]
