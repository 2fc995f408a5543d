"""Checks answered from stored standings give exactly the answers computed from the records.

After a batch refresh, a check reads the subject's stored standing unless something about the
subject entered the ledger since (a record, an event on one of its records, a new version of the
subject), or the date moved on. Hypothesis draws the ledger, the changes after the refresh and the
day of the check; for every subject (and an unregistered id) and every measure, the decision with
the shortcut must equal the decision computed from the records, and the shortcut must actually be
taken for every subject that did not change (so the comparison cannot pass by never using it).
On PostgreSQL the same holds for the service's read from the event loop
(:mod:`xinyong.application.stored_reads`).
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from tests.support.postgres import reset_pg
from tests.support.service_fixtures import SCHEME
from xinyong.application.stored_reads import stored_reads_for
from xinyong.decisions.checks import Decision, Registrations, decide_measure
from xinyong.decisions.precomputed import PrecomputedStandings
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.due_process.refresh import refresh_all
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import Batch, append_batch
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.ledger.schema import records, relying_parties
from xinyong.schemes.load import load_scheme
from xinyong.scoring.store import add_scheme

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


def _row(n: int, drawn: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_id": f"r{n}",
        "subject_id": PEOPLE[drawn["who"]],
        "subject_kind": "person",
        "code": drawn["code"],
        "occurred_at": (TODAY - timedelta(days=drawn["days_ago"])).isoformat(),
        "case_id": "case-1",
        "attrs": {"amount": drawn["amount"], "channel": drawn["channel"]},
    }


def _ledger(url: str) -> tuple[Engine, Catalog]:
    engine = open_database(url)
    with engine.begin() as conn:
        add_scheme(conn, load_scheme(SCHEME))
        conn.execute(
            relying_parties.insert().values(
                name=PARTY,
                measures='["restrict-flights"]',
                purpose="tests",
                webhook_url=None,
                created_at="2025-01-01T00:00:00Z",
            )
        )
    return engine, load_catalog()


def _decide(
    engine: Engine,
    catalog: Catalog,
    subject: str,
    day: date,
    precomputed: PrecomputedStandings | None,
) -> Decision:
    with engine.connect() as conn, conn.begin():
        decision, _ = decide_measure(
            conn,
            SchemeRegistry(),
            PARTY,
            subject,
            MEASURES[0],
            day,
            catalog,
            precomputed=precomputed,
        )
    return decision


async def _decide_on_loop(engine: Engine, subjects: list[str], day: date) -> list[Decision | None]:
    """The service's path on PostgreSQL: stored standings read from the event loop, all the
    subjects' checks at once (so in one batch), starting with empty caches (filled once for all
    of them, as a running service does when its entries expire)."""
    registry, registrations = SchemeRegistry(60), Registrations(60)
    precomputed = PrecomputedStandings(60)
    reads = stored_reads_for(engine, 1)
    assert reads is not None
    await reads.open()
    try:
        return await asyncio.gather(
            *(
                reads.decide(registry, registrations, precomputed, PARTY, s, MEASURES[0], day)
                for s in subjects
            )
        )
    finally:
        await reads.close()


def _same(fast: Decision, slow: Decision) -> None:
    keep = ("subject_id", "measure", "applies", "scheme_id", "version", "as_of", "known_at")
    assert {k: getattr(fast, k) for k in keep} == {k: getattr(slow, k) for k in keep}


def _apply(
    engine: Engine, catalog: Catalog, changes: list[tuple[str, Any]], first: int
) -> set[str]:
    """Apply the drawn changes after the refresh; return the subjects they touched."""
    touched: set[str] = set()
    for n, (kind, what) in enumerate(changes, start=first):
        if kind == "record":
            row = _row(n, what)
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _fresh_url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("precomputed")
        return f"sqlite:///{folder / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_server_url")
    reset_pg(url)
    return url


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    initial=st.lists(record, max_size=25),
    changes=st.lists(change, max_size=6),
    later=st.sampled_from([0, 0, 0, 1, 200]),
)
def test_stored_standings_answer_as_computing_does(
    backend: str,
    request: pytest.FixtureRequest,
    initial: list[dict[str, Any]],
    changes: list[tuple[str, Any]],
    later: int,
) -> None:
    engine, catalog = _ledger(_fresh_url(backend, request))
    try:
        rows = [_row(n, drawn) for n, drawn in enumerate(initial)]
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_batch(conn, Batch(subjects=[(p, "person", "测试", "{}") for p in PEOPLE]), "s")
        if rows:
            ingest_rows(engine, rows, catalog, source="bank", today=TODAY)
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            refresh_all(conn, SchemeRegistry(), TODAY, catalog)
        touched = _apply(engine, catalog, changes, len(initial))
        day = TODAY + timedelta(days=later)
        precomputed = PrecomputedStandings()
        subjects = [*PEOPLE, "ext:nobody"]
        answers: list[tuple[Decision, bool]] = []
        for subject in subjects:
            fast = _decide(engine, catalog, subject, day, precomputed)
            slow = _decide(engine, catalog, subject, day, None)
            _same(fast, slow)
            event(f"applies={slow.applies}")
            with engine.connect() as conn:
                scheme = SchemeRegistry().active(conn)[0]
                stored = precomputed.read(conn, scheme, subject, day)
            current = later == 0 and subject in PEOPLE and subject not in touched
            assert (stored is not None) == current, (subject, touched, later)
            answers.append((slow, current))
        if backend == "postgresql":
            on_loop = asyncio.run(_decide_on_loop(engine, subjects, day))
            for (slow, current), found in zip(answers, on_loop, strict=True):
                # A sanction that applies is computed, so that its notice names the records.
                assert (found is not None) == (current and not slow.applies), slow.subject_id
                if found is not None:
                    _same(found, slow)
    finally:
        engine.dispose()
