"""The ratings a rater gave on a day: the count the daily limit uses, through its index."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, select, text

from tests.support.peer_rows import interaction, ledger_rating
from xinyong.domain.catalog import load_catalog
from xinyong.domain.peer_records import PEER_CODES
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.database import open_database
from xinyong.ledger.peer_index import (
    CASE_INDEX,
    CREATE_CASE_INDEX,
    IS_PEER,
    IS_RATING,
    RATER_INDEX,
    RATINGS_GIVEN_PG,
    rater_of,
    ratings_given,
)
from xinyong.ledger.schema import records

D1, D2 = date(2025, 6, 20), date(2025, 6, 21)


def _plan(conn: Connection, sql: str) -> str:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET enable_seqscan = off")  # the table is empty
        explain = "EXPLAIN "
    else:
        explain = "EXPLAIN QUERY PLAN "
    plan = conn.exec_driver_sql(explain + sql)
    return " ".join(str(part) for row in plan for part in row)


def test_the_daily_count_uses_the_rating_index(ledger_url: str) -> None:
    """The statement :func:`ratings_given` runs on each database probes the rater index."""
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET enable_seqscan = off")  # the table is empty
                params = {"raters": ["ext:a", "ext:b"], "days": [D1, D2]}
                found = conn.execute(text("EXPLAIN " + RATINGS_GIVEN_PG.text), params)
                plan = " ".join(str(row[0]) for row in found)
            else:
                r = records.c
                count = select(rater_of(r.attrs), r.occurred_at).where(
                    IS_RATING,
                    rater_of(r.attrs).in_(["ext:a", "ext:b"]),
                    r.occurred_at.in_([D1, D2]),
                )
                compiled = count.compile(conn, compile_kwargs={"literal_binds": True})
                plan = _plan(conn, str(compiled))
            assert RATER_INDEX in plan
    finally:
        engine.dispose()


def test_the_interaction_lookups_use_the_case_index(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn:
            r = records.c
            lookup = select(r.subject_id, r.attrs).where(
                IS_PEER, r.code == "peer.interaction", r.case_id.in_(["M1", "M2"])
            )
            compiled = lookup.compile(conn, compile_kwargs={"literal_binds": True})
            assert CASE_INDEX in _plan(conn, str(compiled))
    finally:
        engine.dispose()


def test_ratings_given_counts_each_pair_asked(ledger_url: str) -> None:
    """Per (rater, day) asked: a's ratings of D1 and of D2 apart, b's of D1, none for c; a
    rating by b of a is b's, whoever it is filed under."""
    engine = open_database(ledger_url)
    try:
        people = ["p1", "p2", "p3"]
        rows = [
            row
            for i, p in enumerate(people)
            for one, other in (("a", p), (p, "a"), ("b", p), (p, "b"))
            for row in [
                interaction(
                    f"m{i}-{one}-{other}", one, other, f"M{i}{min(one, other)}", "2025-06-20"
                )
            ]
        ]
        rows += [
            ledger_rating("r1", "a", "p1", "M0a", "2025-06-20", 4),
            ledger_rating("r2", "a", "p2", "M1a", "2025-06-20", 4),
            ledger_rating("r3", "a", "p3", "M2a", "2025-06-21", 4),
            ledger_rating("r4", "b", "p1", "M0b", "2025-06-20", 4),
            ledger_rating("r5", "p1", "a", "M0a", "2025-06-20", 4),
        ]
        report = ingest_rows(engine, rows, load_catalog(), source="app", today=date(2025, 6, 30))
        assert not report.rejects, report.rejects
        asked = [("a", D1), ("a", D2), ("b", D1), ("b", D2), ("c", D1), ("a", D1)]
        with engine.connect() as conn:
            given = ratings_given(conn, asked)
        assert dict(given) == {("a", D1): 2, ("a", D2): 1, ("b", D1): 1}
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("code", PEER_CODES)
def test_the_case_index_covers_peer_codes_in_any_collation(pg_server_url: str, code: str) -> None:
    """The index's predicate is a list of codes, not a range of strings: under a collation that
    ignores punctuation (ICU's shifted alternate) no peer code lay between 'peer.' and 'peer/'."""
    predicate = CREATE_CASE_INDEX.split(" WHERE ", 1)[1]
    engine = sa.create_engine(pg_server_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE COLLATION pg_temp.shifted (provider = icu, locale = 'und-u-ka-shifted')"
            )
            held = predicate.replace("code", f"('{code}' COLLATE pg_temp.shifted)")
            assert conn.exec_driver_sql(f"SELECT {held}").scalar_one() is True
    finally:
        engine.dispose()
