"""The refresh after submitted records leaves out only subjects the records cannot have changed.

:func:`after_records` skips a subject registered before the batch whose records have codes no
active scheme reads. Held here to the full refresh (:func:`after_changes` of every subject the
batch names): the same list entries, notices and corrections, batch after batch, with checks
between them.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.service_fixtures import OTHER, PERSON, START, Service, make_service
from xinyong.application.changes import after_changes
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ingest.records import ingest_rows
from xinyong.schemes.load import load_scheme
from xinyong.schemes.reads import reads_code
from xinyong.service.submissions import submit_records

THIRD = synthetic_resident_id(9, date(1987, 7, 7), 9)
PEOPLE = (PERSON, OTHER, THIRD)
CODES: dict[str, dict[str, Any]] = {
    "court.defaulter": {},  # the example scheme's black list
    "court.judgment_performed": {},  # clears a court record of the same case
    "civic.volunteer_service": {"hours": 2},  # points
    "traffic.violation": {"points": 1},  # read by no rule
    "utility.late_fee": {"amount": 10},  # read by no rule
    "peer.interaction": {},  # no peer section
}

_row = st.tuples(
    st.integers(0, len(PEOPLE) - 1),
    st.sampled_from(sorted(CODES)),
    st.integers(0, 800),
    st.sampled_from(["k1", "k2"]),
)
_batches = st.lists(st.lists(_row, min_size=1, max_size=4), min_size=1, max_size=4)


def _records(batch: list[tuple[int, str, int, str]], number: int) -> list[dict[str, Any]]:
    rows = []
    for i, (who, code, days_ago, case) in enumerate(batch):
        attrs = dict(CODES[code])
        if code == "peer.interaction":
            attrs["counterpart"] = PEOPLE[(who + 1) % len(PEOPLE)]
        rows.append(
            {
                "record_id": f"b{number}-{i}",
                "subject_id": PEOPLE[who],
                "subject_kind": "person",
                "code": code,
                "occurred_at": (START - timedelta(days=days_ago)).isoformat(),
                "case_id": case,
                "attrs": attrs,
            }
        )
    return rows


async def _check_everyone(service: Service) -> list[bool]:
    async with service.client() as client:
        answers = []
        for person in PEOPLE:
            response = await client.get(
                "/v1/checks",
                params={"subject": person, "measure": "restrict-flights"},
                headers=service.headers("relying"),
            )
            assert response.status_code == 200, response.text
            answers.append(bool(response.json()["applies"]))
        return answers


def _state(service: Service) -> tuple[list[Any], list[Any], int]:
    with service.engine.connect() as conn:
        entries = conn.exec_driver_sql(
            "SELECT subject_id, list_id, listed_on, delisted_on FROM listings ORDER BY 1, 2, 3"
        ).all()
        notices = conn.exec_driver_sql("SELECT subject_id, kind FROM notices ORDER BY 1, 2").all()
        outbox = conn.exec_driver_sql("SELECT count(*) FROM outbox").scalar_one()
    return [tuple(e) for e in entries], [tuple(n) for n in notices], int(outbox)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=_batches)
def test_the_refresh_after_records_is_the_full_refresh(
    tmp_path_factory: Any, batches: list[list[tuple[int, str, int, str]]]
) -> None:
    root: Path = tmp_path_factory.mktemp("changes")
    skipping = make_service(f"sqlite:///{root / 'skipping.db'}")
    full = make_service(f"sqlite:///{root / 'full.db'}")
    try:
        for number, batch in enumerate(batches):
            rows = _records(batch, number)
            ctx = skipping.app.state.context
            report = submit_records(ctx, rows, "bank", START)
            ctx = full.app.state.context
            alone = ingest_rows(ctx.engine, rows, ctx.catalog, source="bank", today=START)
            queued = after_changes(ctx, alone.named, START) if alone.accepted else []
            assert report["accepted"] == alone.accepted
            assert report["corrections_queued"] == len(queued)
            assert asyncio.run(_check_everyone(skipping)) == asyncio.run(_check_everyone(full))
            assert _state(skipping) == _state(full)
    finally:
        skipping.engine.dispose()
        full.engine.dispose()


def test_the_example_scheme_reads_what_its_rules_count_and_clear() -> None:
    scheme = load_scheme(Path(__file__).parents[1] / "data" / "example_scheme.toml").scheme
    read = {code for code in CODES if reads_code(scheme, code)}
    assert read == {"court.defaulter", "court.judgment_performed", "civic.volunteer_service"}
    assert reads_code(scheme, "finance.repaid")  # clears a contract default
    assert reads_code(scheme, "relation.legal_representative")  # a measure may extend to people
