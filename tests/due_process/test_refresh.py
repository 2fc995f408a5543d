"""The refresh after a change plans the corrections that each subject's recent checks would get
decided one at a time.

:func:`~xinyong.due_process.refresh.plan_refresh` decides the recent checks again with the
standings it has just worked out for every subject of the batch and the relying parties'
registrations read once; :func:`~xinyong.due_process.corrections.plan_corrections` without
them, which computes each standing from the subject's records, is the reference. Hypothesis
draws the ledger, which subjects were checked before, and the changes that follow.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from xinyong.decisions.checks import decide_measure, log_decision
from xinyong.decisions.standing import SchemeRegistry
from xinyong.due_process.corrections import Correction, plan_corrections
from xinyong.due_process.refresh import plan_refresh
from xinyong.ingest.records import ingest_rows


def _essence(correction: Correction) -> tuple[Any, ...]:
    """A correction without what is new in every decision (its id and time)."""
    d = correction.decision
    notice = None
    if correction.notice is not None:
        notice = {k: v for k, v in correction.notice.items() if k != "decision_id"}
    return (
        correction.relying_party,
        correction.previous_decision_id,
        correction.previous,
        (d.subject_id, d.measure, d.applies, d.scheme_id, d.version, d.as_of, d.known_at),
        d.reason,
        repr(notice),
    )


@settings(
    max_examples=20,  # per backend; a ledger is built for each
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    initial=st.lists(record, max_size=20),
    checked=st.sets(st.integers(0, len(PEOPLE) - 1), min_size=1),
    changes=st.lists(change, min_size=1, max_size=6),
)
def test_a_refresh_plans_the_corrections_each_subject_would_get_alone(
    backend: str,
    request: pytest.FixtureRequest,
    initial: list[dict[str, Any]],
    checked: set[int],
    changes: list[tuple[str, Any]],
) -> None:
    engine, catalog = new_ledger(fresh_url(backend, request))
    try:
        register_people(engine)
        rows = [drawn_row(n, drawn) for n, drawn in enumerate(initial)]
        if rows:
            ingest_rows(engine, rows, catalog, source="bank", today=TODAY)
        with engine.begin() as conn:  # the checks the relying party made before the changes
            for who in sorted(checked):
                decision, notice = decide_measure(
                    conn, SchemeRegistry(), PARTY, PEOPLE[who], MEASURES[0], TODAY, catalog
                )
                log_decision(conn, decision, notice)
        apply_changes(engine, catalog, changes, len(rows))
        with engine.connect() as conn, conn.begin():
            planned = plan_refresh(conn, SchemeRegistry(), PEOPLE, TODAY, catalog).corrections
            alone = [
                c
                for subject in PEOPLE
                for c in plan_corrections(conn, SchemeRegistry(), subject, TODAY, catalog)
            ]
        assert sorted(map(_essence, planned)) == sorted(map(_essence, alone))
    finally:
        engine.dispose()
