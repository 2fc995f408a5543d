"""The query plans of every statement a check runs on PostgreSQL, with EXPLAIN (ANALYZE, BUFFERS).

Run against a ledger built by ``bench/check.py --backend postgres`` (it names the database)::

    python bench/check_plans.py --db postgresql+psycopg://postgres@127.0.0.1:5432/xinyong_bench_check_p1000000_o0_y1_s0

Three paths, as the service takes them (docs/postgres.md, "The check path"):

1. the stored standing of 16 subjects read in one statement (``CURRENT_MANY``), the way
   concurrent checks are read from the event loop;
2. the inquiries of 16 checks written in one transaction (rolled back here): the inquiry log
   tree's lock (``INQUIRY_LOCK_SQL``) and head (``HEAD_SQL``), then the rows placed in the tree,
   their notices and the new head in one statement (``INSERT_INQUIRIES``);
3. a check computed from the subject's records (``decide_measure`` without stored standings):
   every statement it runs, captured as it runs, then explained.

The plans are printed with their execution times; the last lines sum them per path.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, create_engine, event, select

from xinyong.decisions.checks import (
    INSERT_INQUIRIES,
    Decision,
    Registrations,
    decide_measure,
    inquiry_json,
    inquiry_rows,
)
from xinyong.decisions.decision_ids import new_decision_id
from xinyong.decisions.precomputed import CURRENT_MANY
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import load_catalog
from xinyong.ledger.append import read_frontier, utc_now_text
from xinyong.ledger.database import INQUIRY_LOCK_SQL
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.inquiry_tree import HEAD_SQL, place
from xinyong.ledger.schema import inquiry_checkpoints, relying_parties, standing_runs, subjects


def explain(conn: Connection, sql: str, params: Any) -> tuple[list[str], float]:
    """The plan's lines and its execution time in ms."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        lines = [str(row[0]) for row in cursor.fetchall()]
    finally:
        cursor.close()
    ms = next(float(x.split(":")[1].split()[0]) for x in lines if x.startswith("Execution Time"))
    return lines, ms


def show(title: str, sql: str, lines: list[str]) -> None:
    print(f"\n### {title}\n\n```sql\n{sql.strip()}\n```\n\n```\n" + "\n".join(lines) + "\n```")


def _inquiries(conn: Connection, party: str, measure: str, ids: list[str]) -> float:
    """Explain the inquiry log's transaction for a batch of checks of ``ids`` (rolled back);
    return its execution time in ms."""
    decisions = [
        Decision(
            new_decision_id(),
            party,
            s,
            measure,
            False,
            "x",
            "v",
            date.today(),
            0,
            utc_now_text(),
        )
        for s in ids
    ]
    lock_ms = 0.0
    for title, statement in (
        ("The inquiry log tree's lock (INQUIRY_LOCK_SQL)", INQUIRY_LOCK_SQL),
        ("The inquiry log tree's head (HEAD_SQL)", HEAD_SQL),
    ):
        lines, ms = explain(conn, statement, None)
        lock_ms += ms
        show(title, statement, lines)
    logged, written = inquiry_rows((d, None) for d in decisions)
    head = place(read_frontier(conn, inquiry_checkpoints), logged, utc_now_text())
    batch = inquiry_json(logged, written, head)
    sql, values = INSERT_INQUIRIES.driver_call(conn.dialect, batch)
    lines, ms = explain(conn, sql, values)
    show(f"The inquiries of {len(ids)} checks (INSERT_INQUIRIES, rolled back)", sql, lines)
    conn.rollback()
    return lock_ms + ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the benchmark's PostgreSQL ledger")
    parser.add_argument("--subjects", type=int, default=16, help="subjects per batch")
    args = parser.parse_args()
    engine = create_engine(args.db)
    catalog = load_catalog()
    totals: dict[str, float] = {}
    with engine.connect() as conn:
        run = conn.execute(
            select(standing_runs.c.run_id, standing_runs.c.known_at)
            .order_by(standing_runs.c.known_at.desc())
            .limit(1)
        ).one()
        ids = [
            str(r[0])
            for r in conn.execute(
                select(subjects.c.subject_id).order_by(subjects.c.position).limit(args.subjects)
            )
        ]
        party = conn.execute(select(relying_parties.c.name, relying_parties.c.measures)).one()
        measure = party.measures.strip('[]"').split('","')[0]
        conn.rollback()

        params = {
            "subject_ids": orjson.dumps(ids).decode(),
            "since": int(run.known_at),
            "run_id": str(run.run_id),
        }
        sql, values = CURRENT_MANY.driver_call(conn.dialect, params)
        lines, totals["stored, per batch"] = explain(conn, sql, values)
        show(f"Stored standings of {len(ids)} subjects (CURRENT_MANY)", sql, lines)
        conn.rollback()

        totals["inquiries, per batch (lock, head, insert)"] = _inquiries(
            conn, party.name, measure, ids
        )

        captured: list[tuple[str, Any]] = []

        @event.listens_for(conn, "before_cursor_execute")
        def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if not statement.startswith("EXPLAIN"):
                captured.append((statement, parameters))

        # The hot lookups bypass SQLAlchemy's events (ledger/driver_sql.py): record them too.
        rows = DriverStatement.rows

        def recorded(self: DriverStatement, c: Connection, p: Any) -> list[tuple[Any, ...]]:
            captured.append(self.driver_call(c.dialect, p))
            return rows(self, c, p)

        DriverStatement.rows = recorded  # type: ignore[method-assign,assignment]
        try:
            with conn.begin():
                decide_measure(
                    conn,
                    SchemeRegistry(),
                    party.name,
                    ids[0],
                    measure,
                    date.today(),
                    catalog,
                    Registrations(),
                )
        finally:
            DriverStatement.rows = rows  # type: ignore[method-assign]
            event.remove(conn, "before_cursor_execute", capture)
        computed = 0.0
        for n, (statement, parameters) in enumerate(captured, start=1):
            lines, ms = explain(conn, statement, parameters)
            computed += ms
            show(f"Computed check, statement {n} of {len(captured)}", statement, lines)
        conn.rollback()
        totals[f"computed check ({len(captured)} statements)"] = computed
    engine.dispose()
    print("\nexecution time, ms: " + ", ".join(f"{k}: {v:.3f}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
