"""The process's proof slot and the background warm-up of the ledger's subtrees."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, Engine

from tests.support.ledgers import new_ledger
from xinyong.application import proving
from xinyong.application.proving import ProofBusy, Warming, proof_slot
from xinyong.ledger.database import open_database


@pytest.fixture
def engine(ledger_url: str) -> Engine:
    engine = open_database(new_ledger(ledger_url))
    yield engine  # type: ignore[misc]
    engine.dispose()


def test_one_proof_at_a_time() -> None:
    with proof_slot(), pytest.raises(ProofBusy), proof_slot():
        pass
    with proof_slot():  # released
        pass


def test_a_stopped_warm_up_ends_and_gives_its_connection_back(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping waits for the thread, which ends at its next block and returns its connection
    to the engine's pool (a shutdown disposes of the pool next)."""
    started = threading.Event()

    def endless(conn: Connection, stopped: object) -> None:
        started.set()
        while not stopped():  # type: ignore[operator]
            conn.exec_driver_sql("SELECT 1").scalar()

    monkeypatch.setattr(proving, "warm", endless)
    warming = Warming(engine)
    assert started.wait(10)
    assert warming.running
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    warming.stop()
    assert not warming.running
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_warm_up_that_fails_is_logged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(conn: Connection, stopped: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(proving, "warm", broken)
    warming = Warming(engine)
    warming.stop()
    assert "could not be kept ahead of proofs" in caplog.text
