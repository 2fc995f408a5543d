"""Group commit of the inquiry log: many concurrent checks, one write transaction.

A check must be in the inquiry log before its answer is returned. Committing each check on its own
serializes every request on the database's write lock (SQLite has one writer; PostgreSQL takes the
ledger's advisory lock), so throughput would be bounded by commit latency. Instead each request
hands its decision to one writer thread and waits; the writer takes everything queued, writes it
in a single transaction, commits, and only then releases the waiting requests. Under load one
commit carries dozens of checks; alone, a check waits for its own commit exactly as before.

If a batch fails, its checks are retried one by one so that one bad decision fails only its own
request. The thread stops when idle and is started again by the next submission, so an app that
is dropped (as in tests) leaves no thread behind.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy import Engine

from xinyong.decisions.checks import Decision, log_decisions
from xinyong.ledger.database import WRITE

__all__ = ["InquiryLog"]

log = logging.getLogger("xinyong.inquiries")

_Item = tuple[Decision, dict[str, object] | None, "Future[None]"]


class InquiryLog:
    """Writes decisions (and their adverse notices) in group commits."""

    def __init__(self, engine: Engine, max_batch: int = 500, idle_seconds: float = 5.0) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, decision: Decision, notice: dict[str, object] | None) -> Future[None]:
        """Queue a decision; the future completes once it is committed (or fails with the error)."""
        done: Future[None] = Future()
        self._queue.put((decision, notice, done))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="xinyong-inquiry-log", daemon=True
                )
                self._thread.start()
        return done

    def write(self, decision: Decision, notice: dict[str, object] | None) -> None:
        """Submit and wait (for callers on a worker thread)."""
        self.submit(decision, notice).result()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        try:
            self._write(batch)
        except Exception as exc:
            if len(batch) == 1:
                log.exception("could not log a check")
                batch[0][2].set_exception(exc)
                return
            for item in batch:  # isolate the failure to the checks that cause it
                self._commit([item])
            return
        for _, _, done in batch:
            done.set_result(None)

    def _write(self, batch: list[_Item]) -> None:
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            log_decisions(conn, [(decision, notice) for decision, notice, _ in batch])
