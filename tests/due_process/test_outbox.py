"""The outbox's delivery: each due message claimed by one deliverer at a time, on both backends;
on PostgreSQL a message another transaction holds is skipped, never waited for."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from tests.support.ledgers import new_ledger
from tests.support.postgres import reset_pg
from xinyong.decisions.relying import register_relying_party
from xinyong.due_process.outbox import deliver_pending, queue_message
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import outbox

HOOK = "http://127.0.0.1:9/hook"  # never called: the tests hand deliver_pending their own post


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_database(ledger_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _queue(engine: Engine, messages: int) -> list[str]:
    """A relying party with a webhook, and ``messages`` corrections queued for it."""
    with engine.begin() as conn:
        register_relying_party(conn, "bank", ["no-loans"], "lending", HOOK)
        return [queue_message(conn, "relying", "bank", f"D{n}", {"n": n}) for n in range(messages)]


class Receiver:
    """Records each message id posted to it, taking ``seconds`` per post."""

    def __init__(self, seconds: float = 0.0, status: int = 200) -> None:
        self.seconds, self.status = seconds, status
        self.posted: Counter[str] = Counter()
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        assert url == HOOK
        time.sleep(self.seconds)
        with self._lock:
            self.posted[headers["webhook-id"]] += 1
        return self.status


def _undelivered(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(
            conn.execute(select(outbox.c.message_id).where(outbox.c.delivered_at.is_(None))).all()
        )


def test_deliverers_at_once_send_each_message_once(engine: Engine) -> None:
    queued = _queue(engine, 40)
    receiver = Receiver(seconds=0.01)
    results: list[tuple[int, int]] = []

    def deliver() -> None:
        results.append(deliver_pending(engine, receiver.post))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(receiver.posted) == sorted(queued)
    assert set(receiver.posted.values()) == {1}
    assert sum(delivered for delivered, _ in results) == 40
    assert _undelivered(engine) == 0


def test_a_failed_message_is_tried_once_per_round(engine: Engine) -> None:
    """A message that fails is due again a second later; a round that lasts longer than that
    does not send it twice, and the limit counts the messages sent."""
    queued = _queue(engine, 3)
    receiver = Receiver(seconds=0.5, status=500)
    assert deliver_pending(engine, receiver.post) == (0, 3)
    assert receiver.posted == Counter(queued)
    with engine.begin() as conn:  # due again now
        conn.execute(update(outbox).values(next_attempt_at="2000-01-01T00:00:00.000000Z"))
    assert deliver_pending(engine, Receiver().post, limit=2) == (2, 0)
    assert _undelivered(engine) == 1


@pytest.mark.postgres
def test_a_message_held_elsewhere_is_skipped_not_waited_for(pg_server_url: str) -> None:
    reset_pg(pg_server_url)
    engine = open_database(pg_server_url)
    try:
        first, *others = _queue(engine, 4)
        receiver = Receiver()
        done: list[tuple[int, int]] = []
        with engine.connect() as holder, holder.begin():  # another deliverer's claim, unfinished
            holder.execute(select(outbox).where(outbox.c.message_id == first).with_for_update())
            deliverer = threading.Thread(
                target=lambda: done.append(deliver_pending(engine, receiver.post))
            )
            deliverer.start()
            deliverer.join(20)
            assert not deliverer.is_alive(), "the deliverer waited for the held message"
        assert done == [(3, 0)]
        assert sorted(receiver.posted) == sorted(others)
        assert deliver_pending(engine, receiver.post) == (1, 0)  # once it is let go
        assert receiver.posted[first] == 1
    finally:
        engine.dispose()


def test_an_outcome_is_written_only_under_its_own_claim(engine: Engine) -> None:
    """A send that outlasted its claim (another deliverer has claimed the message since)
    leaves the message as the other's claim has it."""
    [message] = _queue(engine, 1)
    theirs = "2999-01-01T00:00:00.000000Z"

    def late(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        with engine.begin() as conn:  # meanwhile the claim lapsed and another took it
            conn.execute(update(outbox).values(next_attempt_at=theirs))
        return 200

    deliver_pending(engine, late)
    with engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.message_id == message)).one()
    assert (row.delivered_at, row.next_attempt_at, row.attempts) == (None, theirs, 0)


def test_a_round_with_nothing_to_send_takes_no_lock(tmp_path: Path) -> None:
    """SQLite: messages waiting for a webhook are not due, and a round that finds nothing due
    writes nothing, so it never waits for the ledger's writer."""
    engine = open_database(new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}"))
    try:
        with engine.begin() as conn:
            register_relying_party(conn, "bank", ["no-loans"], "lending")  # no webhook
            queue_message(conn, "relying", "bank", "D1", {"n": 1})
        writer = sqlite3.connect(tmp_path / "ledger.db")
        writer.execute("BEGIN IMMEDIATE")  # another process appending
        try:
            done: list[tuple[int, int]] = []
            round_ = threading.Thread(
                target=lambda: done.append(deliver_pending(engine, Receiver().post))
            )
            round_.start()
            round_.join(10)
            assert done == [(0, 0)], "the round waited for the writer"
        finally:
            writer.rollback()
            writer.close()
    finally:
        engine.dispose()
