"""Checks logged during a checkpoint's pause: answered from the spill file, then committed; a
spill file left by a dead process is imported once, and a live process's file is left alone."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from tests.support.service_fixtures import logged_decision
from xinyong.application.inquiry_log import InquiryLog
from xinyong.application.inquiry_spill import SpillFile, recover_spill, recover_spills, spill_path
from xinyong.decisions.checks import log_decisions
from xinyong.ledger.database import inquiry_log_path, open_database
from xinyong.ledger.schema import inquiries, pending_notices

pytestmark = pytest.mark.anyio


def _logged(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.scalars(sa.select(inquiries.c.decision_id)))


def _ledger(tmp_path: Path) -> tuple[Engine, Path]:
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    log_file = inquiry_log_path(str(tmp_path / "ledger.db"))
    assert log_file is not None
    return engine, log_file


async def test_checks_during_a_pause_are_answered_from_the_spill_file(tmp_path: Path) -> None:
    engine, log_file = _ledger(tmp_path)
    log = InquiryLog(engine)
    try:
        first = logged_decision()
        await log.record(first, None)  # the log's table, as usual
        paused = threading.Event()
        log._pause(paused)
        during = [logged_decision("ext:b"), logged_decision("ext:c", applies=True)]
        notice = {"decision_id": during[1].decision_id, "measure": "no-flights"}
        await asyncio.wait_for(
            asyncio.gather(log.record(during[0], None), log.record(during[1], notice)), 5
        )
        spilled = spill_path(log_file, os.getpid())
        assert _logged(engine) == [first.decision_id]
        lines = [orjson.loads(line) for line in spilled.read_bytes().splitlines()]
        assert [line["decision_id"] for line in lines] == [d.decision_id for d in during]
        assert [line["notice"] for line in lines] == [None, notice]

        log._resume(asyncio.get_running_loop())
        after = logged_decision("ext:d")
        await asyncio.wait_for(log.record(after, None), 5)
        assert _logged(engine) == sorted(d.decision_id for d in [first, *during, after])
        assert spilled.stat().st_size == 0
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(pending_notices)) == 1
    finally:
        log.close()
        engine.dispose()
    assert not spill_path(log_file, os.getpid()).exists()  # emptied and removed at close


async def test_a_stop_during_a_pause_commits_what_was_spilled(tmp_path: Path) -> None:
    """The service stops while a checkpoint holds the log's writes: the checks answered from
    the spill file are committed when the log closes, not left for the next start."""
    engine, log_file = _ledger(tmp_path)
    log = InquiryLog(engine)
    try:
        log._pause(threading.Event())
        during = [logged_decision("ext:b"), logged_decision("ext:c")]
        await asyncio.wait_for(asyncio.gather(*(log.record(d, None) for d in during)), 5)
        assert _logged(engine) == []  # answered, from the spill file only
    finally:
        log.close()
    try:
        assert _logged(engine) == sorted(d.decision_id for d in during)
    finally:
        engine.dispose()
    assert not spill_path(log_file, os.getpid()).exists()


def test_a_dead_process_spill_file_is_imported_once(tmp_path: Path) -> None:
    engine, log_file = _ledger(tmp_path)
    try:
        committed, lost = logged_decision("ext:a"), logged_decision("ext:b", applies=True)
        with engine.connect() as conn, conn.begin():
            log_decisions(conn, [(committed, None)])
        # A process died after committing one of its spilled checks but not the other, and
        # in the middle of writing a third line.
        dead = SpillFile(log_file, 999_999_999)
        dead.write([(committed, None), (lost, {"decision_id": lost.decision_id})])
        dead.close()
        with dead.path.open("ab") as f:
            f.write(b'{"decision_id": "cut sh')
        # A live process's file is its own to commit.
        live = SpillFile(log_file, os.getpid() + 1)
        live.write([(logged_decision("ext:c"), None)])
        live_path = live.path

        assert recover_spills(engine, log_file) == 1
        assert _logged(engine) == sorted([committed.decision_id, lost.decision_id])
        assert not dead.path.exists()
        assert live_path.exists()
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(pending_notices)) == 1
        assert recover_spills(engine, log_file) == 0  # the live one is still locked
        live.close()
    finally:
        engine.dispose()


def test_a_spill_file_the_log_refuses_is_kept_and_the_start_goes_on(tmp_path: Path) -> None:
    engine, log_file = _ledger(tmp_path)
    try:
        bad = logged_decision()
        row = {
            **dataclasses.asdict(bad),
            "relying_party": None,
            "as_of": "2026-11-26",
            "notice": None,
        }
        path = spill_path(log_file, 999_999_998)
        path.write_bytes(orjson.dumps(row) + b"\n")
        assert recover_spills(engine, log_file) == 0  # NOT NULL: logged, not raised
        assert path.exists()
        assert _logged(engine) == []
    finally:
        engine.dispose()


def test_a_reused_pid_never_touches_the_file_a_dead_process_left(tmp_path: Path) -> None:
    engine, log_file = _ledger(tmp_path)
    try:
        left = logged_decision("ext:a")
        dead = SpillFile(log_file, 4242)
        dead.write([(left, None)])
        os.close(dead._fd)  # killed: its file stays, not yet imported
        again = SpillFile(log_file, 4242)  # a new process that got the same pid
        again.write([])
        again.keep_only([])
        assert again.path != dead.path
        assert dead.path.read_bytes().count(b"decision_id") == 1
        again.close()
        assert recover_spills(engine, log_file) == 1
        assert _logged(engine) == [left.decision_id]
    finally:
        engine.dispose()


def test_a_spill_file_imported_by_another_process_meanwhile_is_skipped(tmp_path: Path) -> None:
    engine, log_file = _ledger(tmp_path)
    try:
        dead = SpillFile(log_file, 4243)
        dead.write([(logged_decision("ext:a"), None)])
        os.close(dead._fd)
        fd = os.open(dead.path, os.O_RDWR)  # one worker opened it first...
        try:
            assert recover_spills(engine, log_file) == 1  # ...another imported and removed it
            assert not dead.path.exists()
            assert recover_spill(engine, dead.path, fd) == 0  # the first finds it gone
        finally:
            os.close(fd)
        assert len(_logged(engine)) == 1  # imported once
    finally:
        engine.dispose()
