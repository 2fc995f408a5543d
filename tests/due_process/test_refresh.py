"""The refresh after a change plans the corrections that each subject's recent checks would get
decided one at a time.

:func:`~xinyong.due_process.refresh.plan_refresh` decides the recent checks again with the
standings it has just worked out for every subject of the batch; the reference here reads the
inquiry log whole, picks the latest check of each relying party and measure about each subject
in the correction window in Python, and decides each again with
:func:`~xinyong.decisions.checks.decide_measure` alone, which computes the standing from the
subject's records. Hypothesis draws the ledger, the checks made before (some older than the
window, some repeated) and the changes that follow.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select

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
from tests.support.ledgers import add_relying_party
from xinyong.decisions.checks import decide_measure, log_decision
from xinyong.decisions.standing import SchemeRegistry, standings_of_many
from xinyong.domain.catalog import Catalog
from xinyong.due_process.corrections import plan_corrections
from xinyong.due_process.refresh import plan_refresh
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import read_size
from xinyong.ledger.schema import inquiries

WINDOW_DAYS = 90


def _made_at(days_ago: int, n: int) -> str:
    made = datetime.now(UTC) - timedelta(days=days_ago, microseconds=1000 - n)
    return made.isoformat(timespec="microseconds")[:-6] + "Z"


def _reference(conn: Connection, catalog: Catalog) -> list[tuple[Any, ...]]:
    """The corrections worked out without the refresh's shortcuts: the latest checks found in
    Python, each decided from the subject's records."""
    since = (datetime.now(UTC) - timedelta(days=WINDOW_DAYS)).strftime("%Y-%m-%dT%H:%M:%S")
    logged = conn.execute(
        select(
            inquiries.c.subject_id,
            inquiries.c.relying_party,
            inquiries.c.measure,
            inquiries.c.made_at,
            inquiries.c.decision_id,
            inquiries.c.applies,
        )
    ).all()
    latest: dict[tuple[str, str, str], str] = {}
    for subject, party, measure, made_at, _, _ in logged:
        if made_at >= since and made_at > latest.get((subject, party, measure), ""):
            latest[subject, party, measure] = made_at
    found = []
    for subject, party, measure, made_at, decision_id, applied in logged:
        if latest.get((subject, party, measure)) != made_at:
            continue
        again, notice = decide_measure(
            conn, SchemeRegistry(), party, subject, measure, TODAY, catalog
        )
        if again.applies != bool(applied):
            found.append(_essence(party, decision_id, bool(applied), again, notice))
    return sorted(found)


def _essence(
    party: str, previous: str, applied: bool, d: Any, notice: dict[str, object] | None
) -> tuple[Any, ...]:
    """A correction without what is new in every decision (its id and time)."""
    shown = None if notice is None else {k: v for k, v in notice.items() if k != "decision_id"}
    return (
        party,
        previous,
        applied,
        (d.subject_id, d.measure, d.applies, d.scheme_id, d.version, d.as_of, d.known_at),
        d.reason,
        repr(shown),
    )


def _planned(conn: Connection, catalog: Catalog) -> list[tuple[Any, ...]]:
    plan = plan_refresh(conn, SchemeRegistry(), PEOPLE, TODAY, catalog, WINDOW_DAYS)
    return sorted(
        _essence(c.relying_party, c.previous_decision_id, c.previous, c.decision, c.notice)
        for c in plan.corrections
    )


@settings(
    max_examples=20,  # per backend; a ledger is built for each
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    initial=st.lists(record, max_size=20),
    checks=st.lists(
        st.tuples(st.integers(0, len(PEOPLE) - 1), st.sampled_from([0, 1, 30, WINDOW_DAYS + 5])),
        min_size=1,
        max_size=8,
    ),
    changes=st.lists(change, min_size=1, max_size=6),
)
def test_a_refresh_plans_the_corrections_each_subject_would_get_alone(
    backend: str,
    request: pytest.FixtureRequest,
    initial: list[dict[str, Any]],
    checks: list[tuple[int, int]],
    changes: list[tuple[str, Any]],
) -> None:
    engine, catalog = new_ledger(fresh_url(backend, request))
    try:
        register_people(engine)
        rows = [drawn_row(n, drawn) for n, drawn in enumerate(initial)]
        if rows:
            ingest_rows(engine, rows, catalog, source="bank", today=TODAY)
        with engine.begin() as conn:  # the checks the relying party made before the changes
            for n, (who, days_ago) in enumerate(checks):
                decision, notice = decide_measure(
                    conn, SchemeRegistry(), PARTY, PEOPLE[who], MEASURES[0], TODAY, catalog
                )
                made = dataclasses.replace(decision, made_at=_made_at(days_ago, n))
                log_decision(conn, made, notice)
        apply_changes(engine, catalog, changes, len(rows))
        with engine.connect() as conn, conn.begin():
            assert _planned(conn, catalog) == _reference(conn, catalog)
    finally:
        engine.dispose()


def test_standings_worked_out_before_the_ledger_grew_are_not_used(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """A standing is taken from those already worked out only at the ledger size they were
    worked out at: a record appended since (another writer, between two statements of a plan
    in READ COMMITTED) is decided on."""
    engine, catalog = new_ledger(fresh_url(backend, request))
    try:
        register_people(engine)
        person = PEOPLE[0]
        with engine.begin() as conn:
            decision, notice = decide_measure(
                conn, SchemeRegistry(), PARTY, person, MEASURES[0], TODAY, catalog
            )
            assert not decision.applies
            log_decision(conn, decision, notice)
        with engine.connect() as conn, conn.begin():
            size = read_size(conn)
            (loaded,) = SchemeRegistry().active(conn)
            before = standings_of_many(conn, loaded, [person], TODAY, size, catalog)
        known = {(loaded.scheme.id, loaded.version, TODAY, size): before}
        defaulted = {"who": 0, "code": "court.defaulter", "days_ago": 3, "amount": 500}
        row = drawn_row(0, {**defaulted, "channel": "branch"})
        assert ingest_rows(engine, [row], catalog, source="bank", today=TODAY).accepted == 1
        with engine.connect() as conn, conn.begin():
            registry = SchemeRegistry()
            alone = plan_corrections(conn, registry, person, TODAY, catalog)
            given_known = plan_corrections(conn, registry, person, TODAY, catalog, known=known)
        assert [c.decision.applies for c in alone] == [True]  # the record changed the answer
        assert [(c.previous, c.decision.applies, c.decision.known_at) for c in given_known] == [
            (c.previous, c.decision.applies, c.decision.known_at) for c in alone
        ]
    finally:
        engine.dispose()


def test_only_checks_in_the_correction_window_are_corrected(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """Each relying party's latest check in the window is decided again, and only those: a
    party that checked a subject long ago gets no correction, even when another party checked
    the same subject yesterday."""
    engine, catalog = new_ledger(fresh_url(backend, request))
    try:
        register_people(engine)
        with engine.begin() as conn:
            add_relying_party(conn, "hotel", [MEASURES[0]])
            made = [(PARTY, 0, WINDOW_DAYS + 5), ("hotel", 0, 1), (PARTY, 1, 1)]
            for n, (party, who, days_ago) in enumerate(made):
                decision, notice = decide_measure(
                    conn, SchemeRegistry(), party, PEOPLE[who], MEASURES[0], TODAY, catalog
                )
                log_decision(
                    conn, dataclasses.replace(decision, made_at=_made_at(days_ago, n)), notice
                )
        defaulted = [
            drawn_row(
                n,
                {"who": n, "code": "court.defaulter", "days_ago": 3, "amount": 500, "channel": "x"},
            )
            for n in range(2)
        ]
        assert ingest_rows(engine, defaulted, catalog, source="bank", today=TODAY).accepted == 2
        with engine.connect() as conn, conn.begin():
            planned = _planned(conn, catalog)
            assert planned == _reference(conn, catalog)
        assert sorted((p[0], p[3][0]) for p in planned) == [
            ("airline", PEOPLE[1]),
            ("hotel", PEOPLE[0]),
        ]
    finally:
        engine.dispose()
