"""A small ledger drawn by Hypothesis: six people, records of a few codes, and the changes
that can follow a refresh (records, lifecycle events, new subject versions)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from tests.support.ledgers import add_relying_party
from tests.support.overridden import add_overridden
from tests.support.postgres import reset_pg
from tests.support.service_fixtures import SCHEME
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import Batch, append_batch
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.ledger.schema import records
from xinyong.schemes.load import load_scheme

__all__ = [
    "CODES",
    "MEASURES",
    "PARTY",
    "PEOPLE",
    "TODAY",
    "apply_changes",
    "change",
    "drawn_row",
    "fresh_url",
    "new_ledger",
    "record",
    "register_people",
]

TODAY = date(2025, 6, 30)
PEOPLE = [synthetic_resident_id(9, date(1980 + i, 1 + i, 1 + i), i) for i in range(6)]
MEASURES = ["restrict-flights"]
CODES = [
    "finance.contract_default",
    "court.defaulter",
    "court.judgment_performed",
    "finance.repaid",
    "civic.volunteer_service",
]
PARTY = "airline"

record = st.fixed_dictionaries(
    {
        "who": st.integers(0, len(PEOPLE) - 1),
        "code": st.sampled_from(CODES),
        "days_ago": st.integers(0, 900),
        "amount": st.sampled_from([500, 20_000]),
        "channel": st.sampled_from(["branch", "online"]),
    }
)
change = st.one_of(
    st.tuples(st.just("record"), record),
    st.tuples(st.sampled_from(["revoked", "repaired", "expired"]), st.integers(0, 40)),
    st.tuples(st.just("subject"), st.integers(0, len(PEOPLE) - 1)),
)


def drawn_row(n: int, drawn: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_id": f"r{n}",
        "subject_id": PEOPLE[drawn["who"]],
        "subject_kind": "person",
        "code": drawn["code"],
        "occurred_at": (TODAY - timedelta(days=drawn["days_ago"])).isoformat(),
        "case_id": "case-1",
        "attrs": {"amount": drawn["amount"], "channel": drawn["channel"]},
    }


def new_ledger(url: str) -> tuple[Engine, Catalog]:
    engine = open_database(url)
    with engine.begin() as conn:
        add_overridden(conn, load_scheme(SCHEME))
        add_relying_party(conn, PARTY, ["restrict-flights"])
    return engine, load_catalog()


def register_people(engine: Engine) -> None:
    """Register :data:`PEOPLE` (one batch)."""
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        append_batch(conn, Batch(subjects=[(p, "person", "测试", "{}") for p in PEOPLE]), "s")


def apply_changes(
    engine: Engine, catalog: Catalog, changes: list[tuple[str, Any]], first: int
) -> set[str]:
    """Apply the drawn changes after the refresh; return the subjects they touched."""
    touched: set[str] = set()
    for n, (kind, what) in enumerate(changes, start=first):
        if kind == "record":
            row = drawn_row(n, what)
            report = ingest_rows(engine, [row], catalog, source="bank", today=TODAY)
            if report.accepted:
                touched.add(row["subject_id"])
        elif kind == "subject":
            subject = PEOPLE[what]
            with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
                append_batch(conn, Batch(subjects=[(subject, "person", "新名字", "{}")]), "rename")
            touched.add(subject)
        else:
            with engine.connect() as conn:
                found = conn.execute(
                    select(records.c.subject_id).where(
                        records.c.source == "bank", records.c.record_id == f"r{what}"
                    )
                ).first()
            if found is None:
                continue
            with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
                append_event(
                    conn,
                    EventType(kind),
                    "bank",
                    f"r{what}",
                    effective_on=TODAY - timedelta(days=what % 3),
                    actor="test",
                    reason="drawn by the test",
                )
            touched.add(str(found[0]))
    return touched


def fresh_url(backend: str, request: pytest.FixtureRequest) -> str:
    """A new empty ledger: a SQLite file, or the test PostgreSQL database emptied."""
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("precomputed")
        return f"sqlite:///{folder / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_server_url")
    reset_pg(url)
    return url
