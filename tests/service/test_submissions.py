"""Records submitted through the service: appended, then their subjects refreshed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.ledgers import add_relying_party
from tests.support.overridden import add_overridden
from tests.support.service_fixtures import Clock
from xinyong.application import changes
from xinyong.application.context import Context
from xinyong.application.settings import ServiceSettings
from xinyong.decisions.checks import decide_measure, log_decision
from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.due_process.refresh import RefreshPlan, plan_refresh
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import listings, notices, outbox
from xinyong.schemes.load import parse_scheme
from xinyong.service.submissions import submit_records

TODAY = date(2025, 6, 30)
PERSON = synthetic_resident_id(1101, date(1980, 1, 1), 3)
SCHEME = """
id = "fin"
name = "arrears"
base = 100.0
subject_kinds = ["person"]

[[grades]]
name = "A"
min = 100.0

[[grades]]
name = "D"

[[rules]]
id = "arrears"
match = "finance.bank_arrears"
points = -50.0
valid_for = "1y"
cleared_by = ["finance.repaid"]

[[lists]]
id = "red"
kind = "red"
grades = ["A"]

[[lists]]
id = "black"
kind = "black"
rules = ["arrears"]

[[measures]]
id = "fast-track"
kind = "reward"
lists = ["red"]
"""
"""A red list of those in good standing, a black list of those in arrears; the fast track for
those on the red list."""
PARTY = "airline"


@contextmanager
def _context(folder: Path) -> Iterator[Context]:
    catalog = load_catalog()
    engine = open_database(f"sqlite:///{folder / 'ledger.db'}")
    with engine.begin() as conn:
        add_overridden(conn, parse_scheme(SCHEME), catalog=catalog)
        add_relying_party(conn, PARTY, ["fast-track"])
    settings = ServiceSettings(today=Clock(TODAY))
    ctx = Context.create(engine, catalog, settings)
    try:
        yield ctx
    finally:
        ctx.inquiries.close()
        engine.dispose()


def _record(record_id: str, code: str, case_id: str | None = None) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "subject_id": PERSON,
        "subject_kind": "person",
        "code": code,
        "occurred_at": "2025-06-01",
        "case_id": case_id,
        "attrs": {},
    }


def _entries(ctx: Context) -> list[tuple[str, date, date | None]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(listings.c.list_id, listings.c.listed_on, listings.c.delisted_on).order_by(
                listings.c.list_id
            )
        ).all()
    return [(str(r.list_id), r.listed_on, r.delisted_on) for r in rows]


def test_a_batch_submitted_again_after_its_refresh_never_ran_is_refreshed(tmp_path: Path) -> None:
    """The worker died between the batch's commit and its refresh; the client submits it again,
    all duplicates: that submission's refresh is the one the first never had."""
    with _context(tmp_path) as ctx:
        rows = [_record("a", "finance.bank_arrears")]
        report = ingest_rows(ctx.engine, rows, ctx.catalog, source="bank", today=TODAY)
        assert report.accepted == 1
        assert _entries(ctx) == []  # committed, never refreshed
        again = submit_records(ctx, rows, "bank", TODAY)
        assert (again["accepted"], again["duplicates"]) == (0, 1)
        assert _entries(ctx) == [("black", TODAY, None)]


def test_a_list_left_and_joined_again_on_one_day_opens_the_days_entry_again(
    tmp_path: Path,
) -> None:
    """An entry is keyed by its day: joining again the day it was left reopens it (this was a
    unique-key violation that failed the refresh after the records were committed)."""
    with _context(tmp_path) as ctx:
        for rows in (
            [_record("a", "utility.paid")],  # good standing: the red list
            [_record("b", "finance.bank_arrears", "k")],  # off it, onto the black list
            [_record("c", "finance.repaid", "k")],  # cleared: back on the red list, same day
        ):
            assert submit_records(ctx, rows, "bank", TODAY)["accepted"] == 1
        assert _entries(ctx) == [("black", TODAY, TODAY), ("red", TODAY, None)]
        with ctx.engine.connect() as conn:
            kinds = conn.execute(select(notices.c.kind).where(notices.c.subject_id == PERSON))
            assert [str(k) for (k,) in kinds].count("listing") == 3  # red, black, red again


def test_a_list_joined_again_on_one_day_is_public_when_its_latest_notice_says(
    tmp_path: Path,
) -> None:
    """The reopened entry is noticed again, and is public only after that notice's grace."""
    with _context(tmp_path) as ctx:
        ingest_rows(
            ctx.engine, [_record("a", "utility.paid")], ctx.catalog, source="bank", today=TODAY
        )
        changes.after_changes(ctx, [PERSON], TODAY)
        with ctx.engine.begin() as conn:  # as if listed by a refresh with no grace at all
            conn.execute(listings.update().values(public_from=TODAY))
        for rows in (
            [_record("b", "finance.bank_arrears", "k")],
            [_record("c", "finance.repaid", "k")],
        ):
            submit_records(ctx, rows, "bank", TODAY)
        with ctx.engine.connect() as conn:
            red = conn.execute(select(listings.c.public_from).where(listings.c.list_id == "red"))
            assert [r for (r,) in red] == [TODAY + timedelta(days=ctx.settings.grace_days)]


def test_a_batch_submitted_again_during_the_first_refresh_corrects_an_answer_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client submits a batch again (a timeout, another web worker) while the first
    submission's refresh is being planned: both refreshes plan the same correction, at the same
    ledger size (duplicates append nothing); the second to write plans again under the lock."""
    with _context(tmp_path) as ctx:
        submit_records(ctx, [_record("a", "utility.paid")], "bank", TODAY)
        with ctx.engine.begin() as conn:  # the party sees the person on the red list
            decision, notice = decide_measure(
                conn, ctx.registry, PARTY, PERSON, "fast-track", TODAY, ctx.catalog
            )
            assert decision.applies
            log_decision(conn, decision, notice)
        rows = [_record("b", "finance.bank_arrears", "k")]
        retried: list[dict[str, Any]] = []
        retrying = False

        def plan_then_retry(*args: Any, **kwargs: Any) -> RefreshPlan:
            nonlocal retrying
            plan = plan_refresh(*args, **kwargs)
            if not retrying:  # the batch submitted again, between this plan and its writing
                retrying = True
                retried.append(submit_records(ctx, rows, "bank", TODAY))
            return plan

        monkeypatch.setattr(changes, "plan_refresh", plan_then_retry)
        first = submit_records(ctx, rows, "bank", TODAY)
        assert first["corrections_queued"] + retried[0]["corrections_queued"] == 1
        with ctx.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 1
