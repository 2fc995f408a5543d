"""The lookups of the people relation records name probe their index on both databases."""

from __future__ import annotations

from sqlalchemy import Connection, select

from xinyong.decisions.precomputed import CURRENT
from xinyong.ledger.database import open_database
from xinyong.ledger.related_index import IS_RELATION, named_person
from xinyong.ledger.schema import records


def _plan(conn: Connection, sql: str, params: dict[str, object]) -> str:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET enable_seqscan = off")  # the table is empty
        explain = "EXPLAIN "
    else:
        explain = "EXPLAIN QUERY PLAN "
    plan = conn.exec_driver_sql(explain + sql, params)
    return " ".join(str(part) for row in plan for part in row)


def test_the_related_person_lookups_use_their_index(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn:
            lookup = select(records.c.subject_id).where(
                IS_RELATION, named_person(records.c.attrs) == "x"
            )
            compiled = lookup.compile(conn, compile_kwargs={"literal_binds": True})
            assert "ix_records_related_person" in _plan(conn, str(compiled), {})
            # the stored standing's read probes it too (a check of a measure that extends to
            # related parties needs to know whether any relation names the subject)
            sql, values = CURRENT.driver_call(
                conn.dialect, {"subject_id": "x", "since": 0, "run_id": "r"}
            )
            assert "ix_records_related_person" in _plan(conn, sql, values)
    finally:
        engine.dispose()
