"""The daily limit's count of a rater's ratings probes its index on both databases."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, select

from xinyong.ledger.database import open_database
from xinyong.ledger.rating_index import INDEX_NAME, IS_RATING, rater_of
from xinyong.ledger.schema import records


def _plan(conn: Connection, sql: str) -> str:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET enable_seqscan = off")  # the table is empty
        explain = "EXPLAIN "
    else:
        explain = "EXPLAIN QUERY PLAN "
    plan = conn.exec_driver_sql(explain + sql)
    return " ".join(str(part) for row in plan for part in row)


def test_the_daily_count_uses_the_rating_index(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn:
            r = records.c
            count = select(rater_of(r.attrs), r.occurred_at).where(
                IS_RATING,
                rater_of(r.attrs).in_(["ext:a", "ext:b"]),
                r.occurred_at.in_([date(2025, 6, 20), date(2025, 6, 21)]),
            )
            compiled = count.compile(conn, compile_kwargs={"literal_binds": True})
            assert INDEX_NAME in _plan(conn, str(compiled))
    finally:
        engine.dispose()
