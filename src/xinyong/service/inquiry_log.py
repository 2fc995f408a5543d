"""Group commit of the inquiry log: many concurrent checks, one write transaction.

A check must be in the inquiry log before its answer is returned. Committing each check on its own
serializes every request on the database's write lock (SQLite has one writer), so throughput would
be bounded by commit latency. Instead a request adds its decision to the pending batch and waits;
the batch is written in a single transaction and only after the commit are the waiting requests
released. While a batch is being written the next one collects, so under load one commit carries
many checks; alone, a check waits for its own commit.

Where the batch is written depends on the database:

- **SQLite** (a local file): on the event loop itself, at the end of the loop iteration in which
  the checks were decided. A commit of a batch takes a few tens of microseconds of SQLite's time
  and no thread switch, so handing it to a thread would cost more than it saves. The loop never
  waits for the lock: when another writer holds it (the ingest process appending records, an
  operator's change) the attempt is repeated :data:`RETRY_SECONDS` later while the loop serves
  other requests. The connection is kept (no pool round trip per batch) and checkpoints the
  write-ahead log itself, after the commit that takes it past :data:`CHECKPOINT_PAGES`: a
  checkpoint run by another thread is never complete while the loop keeps appending, so the log
  would never start over, and every read of the ledger would search an ever longer log (measured:
  a 200 MB log tripled the time of a check's read). A checkpoint of 1 MiB holds the loop about
  a millisecond.
- **A database server**: on a writer thread, since a commit is a network round trip that must not
  stall the loop; the batch is handed over once per commit, not once per check.

If a batch fails, its checks are retried one by one so that one bad decision fails only its own
request.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection, Engine

from xinyong.decisions.checks import Decision, log_decisions
from xinyong.ledger.database import WRITE, WriterBusy, release_writer

__all__ = ["CHECKPOINT_PAGES", "RETRY_SECONDS", "InquiryLog"]

log = logging.getLogger("xinyong.inquiries")

RETRY_SECONDS = 0.0002
"""How soon a batch is tried again when SQLite's write lock is taken."""
CHECKPOINT_PAGES = 256
"""Write-ahead log pages (4 KiB each) after which the loop's writer checkpoints (SQLite)."""

_Entry = tuple[Decision, dict[str, object] | None]
_Item = tuple[Decision, dict[str, object] | None, "asyncio.Future[None]"]
_Outcomes = list[BaseException | None]


class InquiryLog:
    """Writes decisions (and their adverse notices) in group commits."""

    def __init__(self, engine: Engine, max_batch: int = 1_000) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.inline = engine.dialect.name == "sqlite"
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="xinyong-inquiry-log")
        self._pending: list[_Item] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing = False
        self._conn: Connection | None = None

    async def record(self, decision: Decision, notice: dict[str, object] | None) -> None:
        """Log a decision; return once it is committed (or raise the error that prevented it)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (an app served again, as in tests)
            self._loop, self._pending, self._writing = loop, [], False
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((decision, notice, done))
        if not self._writing:
            self._writing = True
            # Let the requests that are already runnable join this batch before it is taken.
            loop.call_soon(self._take, loop)
        await done

    def _take(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return
        batch = self._pending[: self.max_batch]
        entries = [(decision, notice) for decision, notice, _ in batch]
        if not self.inline:
            del self._pending[: len(batch)]
            written = loop.run_in_executor(self._thread, self._commit, entries, False)
            written.add_done_callback(lambda result: self._release(loop, batch, result.result()))
            return
        try:
            outcomes = self._commit(entries, True)
        except WriterBusy:
            loop.call_later(RETRY_SECONDS, self._take, loop)
            return
        del self._pending[: len(batch)]
        self._release(loop, batch, outcomes)

    def _release(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Item], outcomes: _Outcomes
    ) -> None:
        for (_, _, done), outcome in zip(batch, outcomes, strict=True):
            if done.cancelled():
                continue
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)
        if self._pending and loop is self._loop:
            loop.call_soon(self._take, loop)
        else:
            self._writing = False

    def _commit(self, entries: list[_Entry], nowait: bool) -> _Outcomes:
        """Write a batch; one outcome per entry, None for success. With ``nowait``,
        :class:`WriterBusy` when the lock is taken (nothing was written)."""
        try:
            self._write(entries, nowait)
        except WriterBusy:
            raise
        except Exception as exc:
            if len(entries) == 1:
                log.exception("could not log a check")
                return [exc]
            outcomes: _Outcomes = []
            for entry in entries:  # isolate the failure to the checks that cause it
                outcomes += self._commit([entry], nowait)
            return outcomes
        return [None] * len(entries)

    def _write(self, entries: list[_Entry], nowait: bool) -> None:
        if not nowait:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                log_decisions(conn, entries)
            return
        conn = self._kept()
        try:
            with conn.begin():
                log_decisions(conn, entries)
        finally:
            release_writer(conn)

    def _kept(self) -> Connection:
        """The connection the event loop writes with (SQLite), opened on first use."""
        if self._conn is None or self._conn.closed:
            conn = self.engine.connect().execution_options(**WRITE, xinyong_nowait=True)
            conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}"
            )
            self._conn = conn
        return self._conn
