"""The inquiry log's writer process: a check is committed (by the writer) before its answer, a
refused check fails alone, and a writer that dies fails only the checks it had not confirmed;
the service then logs in its own process."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine

from tests.support.service_fixtures import PERSON, logged_decision, make_service
from xinyong.application import inquiry_writer
from xinyong.application.inquiry_writer import InquiryNotLogged, InquiryWriter
from xinyong.decisions.checks import Decision
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import inquiries, pending_notices

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _logged(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(inquiries.c.decision_id)))


async def _until(condition: object, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_each_check_is_committed_by_the_writer_before_it_returns(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    writer = InquiryWriter(engine)
    pid = await writer.started()
    try:
        assert pid != os.getpid()
        assert writer.pid() == pid
        decisions = [logged_decision(f"ext:{i}") for i in range(300)]
        notice = {"decision_id": decisions[0].decision_id, "measure": "no-flights"}

        async def one(decision: Decision) -> bool:
            await writer.record(decision, notice if decision is decisions[0] else None)
            return decision.decision_id in _logged(engine)  # committed when record returned

        assert all(await asyncio.gather(*(one(d) for d in decisions)))
        assert _logged(engine) == {d.decision_id for d in decisions}
        with engine.connect() as conn:
            kinds = conn.scalars(sa.select(pending_notices.c.kind)).all()
        assert kinds == ["adverse-check"]
    finally:
        await writer.stop()
        writer.close()
    assert writer.pid() is None
    engine.dispose()


async def test_a_refused_check_fails_alone(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    writer = InquiryWriter(engine)
    await writer.started()
    try:
        first = logged_decision()
        await writer.record(first, None)
        again = dataclasses.replace(first, subject_id="ext:b")  # the same decision id
        others = [logged_decision("ext:c"), logged_decision("ext:d")]
        outcomes = await asyncio.gather(
            writer.record(again, None),
            *(writer.record(d, None) for d in others),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], InquiryNotLogged)
        assert "UNIQUE" in str(outcomes[0]) or "unique" in str(outcomes[0])
        assert outcomes[1:] == [None, None]
        assert _logged(engine) == {first.decision_id, *(d.decision_id for d in others)}
    finally:
        await writer.stop()
        writer.close()
    engine.dispose()


async def test_a_dead_writer_fails_what_it_had_not_confirmed(tmp_path: Path) -> None:
    """Checks sent to a writer that dies are not answered (they may or may not be in the log);
    later checks are logged by the service itself."""
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    writer = InquiryWriter(engine)
    pid = await writer.started()
    try:
        os.kill(pid, signal.SIGSTOP)  # the writer holds the message without answering
        sent = asyncio.ensure_future(writer.record(logged_decision("ext:lost"), None))
        await _until(lambda: writer._in_flight)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(InquiryNotLogged, match="stopped before confirming"):
            await sent
        assert writer.pid() is None
        later = logged_decision("ext:later")
        await writer.record(later, None)  # in the service's own process now
        assert later.decision_id in _logged(engine)
    finally:
        await writer.stop()
        writer.close()
    engine.dispose()


async def test_a_writer_that_cannot_start_is_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer dies opening the log: started() says so without waiting out its timeout."""
    monkeypatch.setattr(inquiry_writer, "START_SECONDS", 3600.0)
    writer = InquiryWriter(create_engine(f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"))
    assert await asyncio.wait_for(writer.started(), 60) is None
    assert writer.pid() is None
    assert "did not start" in caplog.text
    await writer.stop()
    writer.close()


async def test_a_writer_that_stops_answering_is_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inquiry_writer, "ANSWER_SECONDS", 0.5)
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    writer = InquiryWriter(engine)
    pid = await writer.started()
    assert pid is not None
    try:
        os.kill(pid, signal.SIGSTOP)  # alive, its socket open, and silent
        with pytest.raises(InquiryNotLogged, match="stopped before confirming"):
            await asyncio.wait_for(writer.record(logged_decision("ext:stuck"), None), 60)
        assert writer.pid() is None
        later = logged_decision("ext:later")
        await writer.record(later, None)
        assert later.decision_id in _logged(engine)
    finally:
        await writer.stop()
        writer.close()
    engine.dispose()


async def test_the_service_starts_a_writer_and_its_checks_are_in_the_log(tmp_path: Path) -> None:
    """Served with its lifespan (as ``xinyong serve`` does): checks go through the writer and
    show in the subject's file; the writer stops with the service."""
    svc = make_service(f"sqlite:///{tmp_path / 'ledger.db'}", inquiry_process=True)
    writer = svc.app.state.context.inquiries
    assert isinstance(writer, InquiryWriter)
    async with svc.app.router.lifespan_context(svc.app), svc.client() as client:
        pid = writer.pid()
        assert pid is not None
        assert pid != os.getpid()
        answer = await client.get(
            "/v1/checks",
            params={"subject": PERSON, "measure": "restrict-flights"},
            headers=svc.headers("relying"),
        )
        assert answer.status_code == 200, answer.text
        decision_id = answer.json()["decision_id"]
        assert decision_id in _logged(svc.engine)
        mine = (await client.get("/v1/me", headers=svc.headers("subject"))).json()
        assert decision_id in {c["decision_id"] for c in mine["checks"]}
    assert writer.pid() is None
    svc.engine.dispose()
