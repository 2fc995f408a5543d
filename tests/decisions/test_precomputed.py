"""Checks answered from stored standings give exactly the answers computed from the records.

After a batch refresh, a check reads the subject's stored standing unless something about the
subject entered the ledger since (a record, an event on one of its records, a new version of the
subject), or the date moved on. Hypothesis draws the ledger, the changes after the refresh and the
day of the check; for every subject (and an unregistered id) and every measure, the decision with
the shortcut must equal the decision computed from the records, and the shortcut must actually be
taken for every subject that did not change (so the comparison cannot pass by never using it),
including a sanction that applies, whose adverse notice names the same lists and records.
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
from sqlalchemy import Engine

from tests.support.drawn_ledger import (
    MEASURES,
    PARTY,
    PEOPLE,
    TODAY,
    apply_changes,
    change,
    drawn_row,
    fresh_url,
    new_ledger,
    record,
    register_people,
)
from xinyong.application.stored_reads import stored_reads_for
from xinyong.decisions.checks import Checked, Registrations, decide_measure
from xinyong.decisions.precomputed import PrecomputedStandings
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.due_process.refresh import refresh_all
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.database import WRITE_LOCK


def _decide(
    engine: Engine,
    catalog: Catalog,
    subject: str,
    day: date,
    precomputed: PrecomputedStandings | None,
) -> Checked:
    with engine.connect() as conn, conn.begin():
        return decide_measure(
            conn,
            SchemeRegistry(),
            PARTY,
            subject,
            MEASURES[0],
            day,
            catalog,
            precomputed=precomputed,
        )


async def _decide_on_loop(engine: Engine, subjects: list[str], day: date) -> list[Checked | None]:
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


def _same(fast: Checked, slow: Checked) -> None:
    """The same decision, and the same adverse notice (but for the decision's own id)."""
    keep = ("subject_id", "measure", "applies", "scheme_id", "version", "as_of", "known_at")
    assert {k: getattr(fast[0], k) for k in keep} == {k: getattr(slow[0], k) for k in keep}
    assert (fast[1] is None) == (slow[1] is None)
    if fast[1] is not None and slow[1] is not None:
        assert fast[1]["decision_id"] == fast[0].decision_id
        assert {**fast[1], "decision_id": ""} == {**slow[1], "decision_id": ""}


@settings(
    max_examples=25,  # per backend; a ledger is built and refreshed for each
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
    engine, catalog = new_ledger(fresh_url(backend, request))
    try:
        rows = [drawn_row(n, drawn) for n, drawn in enumerate(initial)]
        register_people(engine)
        if rows:
            ingest_rows(engine, rows, catalog, source="bank", today=TODAY)
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            refresh_all(conn, SchemeRegistry(), TODAY, catalog)
        touched = apply_changes(engine, catalog, changes, len(initial))
        day = TODAY + timedelta(days=later)
        precomputed = PrecomputedStandings()
        subjects = [*PEOPLE, "ext:nobody"]
        answers: list[tuple[Checked, bool]] = []
        for subject in subjects:
            fast = _decide(engine, catalog, subject, day, precomputed)
            slow = _decide(engine, catalog, subject, day, None)
            _same(fast, slow)
            event(f"applies={slow[0].applies}")
            with engine.connect() as conn:
                scheme = SchemeRegistry().active(conn)[0]
                stored = precomputed.read(conn, scheme, subject, day)
            current = later == 0 and subject in PEOPLE and subject not in touched
            assert (stored is not None) == current, (subject, touched, later)
            if stored is not None:  # a sanction that applies is answered from the stored run too
                assert (stored.adverse is not None) == (slow[1] is not None), subject
                event(f"stored, applies={slow[0].applies}")
            answers.append((slow, current))
        if backend == "postgresql":
            on_loop = asyncio.run(_decide_on_loop(engine, subjects, day))
            for (slow, current), found in zip(answers, on_loop, strict=True):
                assert (found is not None) == current, slow[0].subject_id
                if found is not None:
                    _same(found, slow)
    finally:
        engine.dispose()
