"""The refresh after records are submitted leaves out only the subjects it has nothing to do for.

:func:`~xinyong.application.changes.after_changes` with ``codes`` refreshes a subject whose only
change is new records only when an active scheme reads one of their codes. Hypothesis draws the
scheme (every feature, :func:`tests.support.strategies.schemes`), the records before, the
checks a relying party made on every measure, and a submission (codes some rules read and codes
none does, subjects registered before and one who is new). After the submission's refresh, a
full refresh of every subject must find nothing left to write: no list entry to open or close
and no answer to correct. Without the filter's reasons (a code a pattern or a ``cleared_by``
reads, consent under a scheme that requires it, a new subject) it would find some.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.overridden import add_overridden
from tests.support.service_fixtures import Clock
from tests.support.strategies import CODES, drawn_catalog, schemes
from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.application.settings import ServiceSettings
from xinyong.decisions.checks import decide_measure, log_decision
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.due_process.refresh import plan_refresh
from xinyong.ingest.records import IngestReport, ingest_rows
from xinyong.ledger.append import Batch, append_batch
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.schema import relying_parties
from xinyong.schemes.load import parse_scheme
from xinyong.schemes.model import Scheme

TODAY = date(2024, 6, 30)
PARTY = "bank"
UNREAD = ["misc.noted", "misc.other"]
"""Codes that no drawn pattern names (only ``*`` matches them)."""
PEOPLE = [synthetic_resident_id(11, date(1970 + i, 1 + i, 1 + i), i) for i in range(4)]
NEWCOMER = synthetic_resident_id(12, date(1999, 9, 9), 7)
"""A person first named by the submission."""

record = st.fixed_dictionaries(
    {
        "who": st.sampled_from([*PEOPLE, NEWCOMER]),
        "code": st.sampled_from([*CODES, *UNREAD]),
        "days_ago": st.sampled_from([0, 1, 29, 30, 31, 180, 364, 365, 366, 400, 800]),
        "case_id": st.sampled_from([None, "c1", "c2"]),
        "n": st.sampled_from([None, 1, 2, 13]),
    }
)


def _drawn(who: str, code: str, days_ago: int, case_id: str | None = "c1") -> dict[str, Any]:
    return {"who": who, "code": code, "days_ago": days_ago, "case_id": case_id, "n": None}


def _listing(rule: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A scheme that lists by ``rule`` (and by grade D) and sanctions the listed."""
    return {
        "id": "gen",
        "name": "generated",
        "base": 100.0,
        "grades": [{"name": "A", "min": 100.0}, {"name": "D"}],
        "rules": [{"id": "r0", "points": -50.0, **rule}],
        "lists": [{"id": "l0", "kind": "black", "grades": ["D"], "rules": ["r0"]}],
        "measures": [{"id": "m0", "kind": "sanction", "lists": ["l0"], "basis": "test basis"}],
        **more,
    }


def _row(number: int, drawn: dict[str, Any]) -> dict[str, Any]:
    attrs = {} if drawn["n"] is None else {"n": drawn["n"], "amount": 100 * drawn["n"]}
    return {
        "record_id": f"r{number}",
        "subject_id": drawn["who"],
        "subject_kind": "person",
        "code": drawn["code"],
        "occurred_at": (TODAY - timedelta(days=drawn["days_ago"])).isoformat(),
        "case_id": drawn["case_id"],
        "attrs": attrs,
    }


@contextmanager
def _service(scheme: dict[str, Any]) -> Iterator[Context]:
    """A SQLite ledger with ``scheme`` active, :data:`PEOPLE` registered and a relying party
    registered for every measure (function-scoped fixtures outlive hypothesis's examples)."""
    with tempfile.TemporaryDirectory(prefix="xinyong-changes-") as name:
        folder = Path(name)
        codes = [*CODES, *UNREAD]  # displayed longer than any drawn term (no lint error)
        catalog = drawn_catalog(folder, dict.fromkeys(codes, 3650), codes)
        engine = open_database(f"sqlite:///{folder / 'ledger.db'}")
        loaded = parse_scheme(tomli_w.dumps(scheme))
        measures = [m.id for m in loaded.scheme.measures]
        with engine.begin() as conn:
            add_overridden(conn, loaded, catalog=catalog)
            conn.execute(
                relying_parties.insert().values(
                    name=PARTY,
                    measures=orjson.dumps(measures).decode(),
                    purpose="tests",
                    webhook_url=None,
                    created_at="2024-01-01T00:00:00Z",
                )
            )
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_batch(conn, Batch(subjects=[(p, "person", None, "{}") for p in PEOPLE]), "s")
        settings_ = ServiceSettings(today=Clock(TODAY), inquiry_process=False)
        ctx = Context.create(engine, catalog, settings_)
        try:
            yield ctx
        finally:
            ctx.inquiries.close()
            engine.dispose()


def _submit(ctx: Context, rows: list[dict[str, Any]]) -> IngestReport:
    return ingest_rows(ctx.engine, rows, ctx.catalog, source="bank", today=TODAY)


def _check_everyone(ctx: Context, scheme: Scheme) -> None:
    """The relying party checks every measure about every registered person."""
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        for person in PEOPLE:
            for measure in scheme.measures:
                decision, notice = decide_measure(
                    conn, SchemeRegistry(), PARTY, person, measure.id, TODAY, ctx.catalog
                )
                log_decision(conn, decision, notice)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    scheme=st.one_of(schemes(), schemes(attributed=True)),
    before=st.lists(record, max_size=12),
    submitted=st.lists(record, min_size=1, max_size=6),
)
@example(  # a record only a rule's cleared_by names clears a listing
    scheme=_listing({"match": "court.defaulter", "cleared_by": ["court.performed"]}),
    before=[_drawn(PEOPLE[0], "court.defaulter", 30)],
    submitted=[_drawn(PEOPLE[0], "court.performed", 1)],
)
@example(  # a withdrawal of consent ends a listing where the scheme requires consent
    scheme=_listing({"match": "court.*"}, eligibility={"consent": "required"}),
    before=[_drawn(PEOPLE[0], "consent.given", 100), _drawn(PEOPLE[0], "court.defaulter", 30)],
    submitted=[_drawn(PEOPLE[0], "consent.withdrawn", 1)],
)
@example(  # a new subject with a record no rule reads is listed by its grade
    scheme=_listing({"match": "court.*"}, base=0.0),
    before=[],
    submitted=[_drawn(NEWCOMER, "misc.noted", 1), _drawn(PEOPLE[1], "misc.noted", 1)],
)
def test_after_a_submission_a_full_refresh_finds_nothing_left_to_do(
    scheme: dict[str, Any], before: list[dict[str, Any]], submitted: list[dict[str, Any]]
) -> None:
    with _service(scheme) as ctx:
        model = Scheme.model_validate(scheme)
        rows = [_row(n, drawn) for n, drawn in enumerate(before) if drawn["who"] != NEWCOMER]
        if rows:
            _submit(ctx, rows)
        after_changes(ctx, PEOPLE, TODAY)
        _check_everyone(ctx, model)
        batch = [_row(len(before) + n, drawn) for n, drawn in enumerate(submitted)]
        report = _submit(ctx, batch)
        assert not report.rejects, report.rejects
        after_changes(ctx, report.named, TODAY, codes=report.new_codes())
        with ctx.engine.connect() as conn, conn.begin():
            plan = plan_refresh(conn, SchemeRegistry(), [*PEOPLE, NEWCOMER], TODAY, ctx.catalog)
        assert plan.relist == []
        assert plan.corrections == []


def test_a_subject_whose_new_records_no_scheme_reads_is_not_refreshed() -> None:
    """The filter leaves such a subject out (what the property test above cannot see: leaving
    it in changes nothing)."""
    person = PEOPLE[0]
    with _service(_listing({"match": "court.*"})) as ctx:
        read, unread = (
            _submit(ctx, [_row(n, _drawn(person, code, 1))])
            for n, code in enumerate(["court.defaulter", "misc.noted"])
        )
        assert read.new_codes() == {person: {"court.defaulter"}}
        assert unread.new_codes() == {person: {"misc.noted"}}
        # the court record puts the person on the list, but no refresh has run yet; the one
        # after the record no rule reads leaves the person out, and so opens no entry
        assert after_changes(ctx, unread.named, TODAY, codes=unread.new_codes()) == []
        with ctx.engine.connect() as conn, conn.begin():
            assert plan_refresh(conn, SchemeRegistry(), [person], TODAY, ctx.catalog).relist
        after_changes(ctx, read.named, TODAY, codes=read.new_codes())
        with ctx.engine.connect() as conn, conn.begin():
            assert not plan_refresh(conn, SchemeRegistry(), [person], TODAY, ctx.catalog).relist


def test_a_submission_of_duplicates_alone_names_no_new_codes() -> None:
    person = PEOPLE[0]
    with _service(_listing({"match": "court.*"})) as ctx:
        row = _row(0, _drawn(person, "court.defaulter", 1))
        _submit(ctx, [row])
        again = _submit(ctx, [row])
        assert again.duplicates == 1
        assert again.new_codes() == {person: set()}
        newcomer = _submit(ctx, [_row(1, _drawn(NEWCOMER, "misc.noted", 1))])
        assert newcomer.registered == {NEWCOMER}
        assert newcomer.new_codes() == {}  # a new subject is refreshed whatever
