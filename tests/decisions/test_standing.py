"""Standings of many subjects at once are the standings of each, computed one at a time.

:func:`~xinyong.decisions.standing.standings_of_many` (the refresh after a batch of records, and
the daily refresh's relisting) reads the kinds and records of all its subjects with a few
``IN`` queries; :func:`~xinyong.decisions.standing.standing_of` is the reference. Hypothesis
draws the ledger, later changes (records, lifecycle events, new subject versions), the day and
the ledger size the standings are known at; every subject's explanation must be the same,
including subjects of another kind and ids that are not registered.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.drawn_ledger import (
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
from xinyong.decisions.standing import SchemeRegistry, standing_of, standings_of_many
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import Batch, append_batch, read_size
from xinyong.ledger.database import WRITE_LOCK

FIRM = "91350100M000100Y43"
"""An organization: not scored by the test scheme (people only)."""
FIRM_RECORD = {"who": 0, "code": "court.defaulter", "days_ago": 3, "amount": 500, "channel": "x"}


@settings(
    max_examples=25,  # per backend; a ledger is built and refreshed for each
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    initial=st.lists(record, max_size=25),
    changes=st.lists(change, max_size=6),
    later=st.sampled_from([0, 1, 200, -400]),
    known_back=st.integers(0, 8),
)
def test_many_subjects_stand_as_each_does(
    backend: str,
    request: pytest.FixtureRequest,
    initial: list[dict[str, Any]],
    changes: list[tuple[str, Any]],
    later: int,
    known_back: int,
) -> None:
    engine, catalog = new_ledger(fresh_url(backend, request))
    try:
        register_people(engine)
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_batch(conn, Batch(subjects=[(FIRM, "organization", "测试公司", "{}")]), "s")
        rows = [drawn_row(n, drawn) for n, drawn in enumerate(initial)]
        if rows:
            ingest_rows(engine, rows, catalog, source="bank", today=TODAY)
        firm = {**drawn_row(len(rows), FIRM_RECORD), "subject_id": FIRM}
        firm["subject_kind"] = "organization"
        assert ingest_rows(engine, [firm], catalog, source="bank", today=TODAY).accepted == 1
        rows.append(firm)
        apply_changes(engine, catalog, changes, len(rows))
        day = TODAY + timedelta(days=later)
        ids = [*PEOPLE, FIRM, "ext:nobody", synthetic_resident_id(9, TODAY, 99)]
        with engine.connect() as conn, conn.begin():
            known_at = max(0, read_size(conn) - known_back)
            for loaded in SchemeRegistry().active(conn):
                many = standings_of_many(conn, loaded, [*ids, PEOPLE[0]], day, known_at, catalog)
                assert sorted(many) == sorted(set(ids))
                for subject in ids:
                    one = standing_of(conn, loaded, subject, day, known_at, catalog)
                    assert many[subject] == one, subject
    finally:
        engine.dispose()
