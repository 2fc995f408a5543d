"""The lookup of the organisations that name a person probes its index on both databases."""

from __future__ import annotations

from sqlalchemy import text

from xinyong.ledger.database import open_database
from xinyong.ledger.related_index import RELATED_PERSON_INDEX


def test_the_related_person_lookup_uses_its_index(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn:
            index = RELATED_PERSON_INDEX[conn.dialect.name]
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET enable_seqscan = off")  # the table is empty
                explain = "EXPLAIN "
            else:
                explain = "EXPLAIN QUERY PLAN "
            plan = conn.execute(text(explain + index.lookup), {"person": "x", "known_at": 9})
            shown = " ".join(str(part) for row in plan for part in row)
        assert "ix_records_related_person" in shown, shown
    finally:
        engine.dispose()
