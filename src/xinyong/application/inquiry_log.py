"""Group commit of the inquiry log: many concurrent checks, one write transaction.

A check must be in the inquiry log before its answer is returned. Committing each check on its own
serializes every request on the database's write lock (SQLite has one writer), so throughput would
be bounded by commit latency. Instead a request adds its decision to the pending batch and waits;
the batch is written in a single transaction and only after the commit are the waiting requests
released. While a batch is being written the next one collects, so under load one commit carries
many checks; alone, a check waits for its own commit.

Where the batch is written depends on the database:

- **SQLite** (a local file): on the event loop itself, at the end of the loop iteration in which
  the checks were decided (a thread would not do, as the interpreter lock changes hands at every
  row; a process of its own, tried until 2026-12-06, gained nothing measurable). The log has its own
  file (:func:`~xinyong.ledger.database.inquiry_log_path`), so its commits neither wait for the
  ledger's write lock while records are appended nor empty the ledger readers' page caches. The
  loop never waits for a lock: when another process holds the log's (another worker) the attempt
  is repeated :data:`RETRY_SECONDS` later while the loop serves other requests. The connection is
  kept (no pool round trip per batch). It never checkpoints the write-ahead log itself, since a
  checkpoint syncs the disk and, while records are appended, that took tens of milliseconds;
  :meth:`InquiryLog._checkpoint` does it on a thread every :data:`CHECKPOINT_SECONDS` (the
  setting ``inquiry_checkpoint_seconds``). While that checkpoint's last step holds the log's
  writes, checks are answered from the spill file (:mod:`xinyong.application.inquiry_spill`)
  and committed to the table right after.
- **PostgreSQL** (through psycopg): from the event loop, on a kept asynchronous connection, so
  that the loop goes on serving while the commit makes its two round trips (pipelined): one
  transaction takes the inquiry log tree's lock and reads its head, then writes the batch
  placed in the tree, its adverse notices (a sanction that applies) and the tree's new head in
  one statement. A batch whose commit's answer was lost fails as a whole (it may be logged);
  a batch that fails otherwise is retried check by check.

Every path places the batch in the inquiry log's Merkle tree in the transaction that writes it
(:mod:`xinyong.ledger.inquiry_tree`).
- **Another database server**: on a writer thread, since a commit is a network round trip that
  must not stall the loop; the batch is handed over once per commit, not once per check.

If a batch fails, its checks are retried one by one so that one bad decision fails only its own
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from xinyong.application.inquiry_spill import SpillFile, recover_spills
from xinyong.decisions.checks import (
    INSERT_INQUIRIES,
    Decision,
    inquiry_json,
    inquiry_rows,
    log_decisions,
)
from xinyong.decisions.notices import move_pending_notices
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.database import (
    CHECK_CONNECTION,
    INQUIRY_LOCK_SQL,
    INQUIRY_SCHEMA,
    PLAN_ONCE,
    WRITE,
    inquiry_log_file,
    libpq_url,
    never_wait,
)
from xinyong.ledger.inquiry_tree import HEAD_SQL, place
from xinyong.ledger.merkle import Frontier

__all__ = ["CHECKPOINT_SECONDS", "RETRY_SECONDS", "InquiryLog"]

log = logging.getLogger("xinyong.inquiries")

RETRY_SECONDS = 0.0002
"""How soon a batch is tried again when SQLite's write lock is taken."""
CHECKPOINT_SECONDS = 10.0
"""How often the inquiry log's write-ahead log is checkpointed (SQLite), by default (the
setting ``inquiry_checkpoint_seconds``). The log's writes pause
while the last pages are copied and the disk synced (1 to 60 ms measured here); checks logged
meanwhile go to the spill file, so none waits for it."""


CLOSE_SECONDS = 5.0
"""How long closing the log waits for its file's lock to commit what was spilled."""


class WriterBusy(RuntimeError):
    """Another connection holds the write lock of a file the batch writes to (SQLite)."""


_Entry = tuple[Decision, dict[str, object] | None]
_Item = tuple[Decision, dict[str, object] | None, "asyncio.Future[None]"]
_Outcomes = list[BaseException | None]


class InquiryLog:
    """Writes decisions (and their adverse notices) in group commits."""

    def __init__(
        self, engine: Engine, max_batch: int = 1_000, checkpoint_seconds: float = CHECKPOINT_SECONDS
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.checkpoint_seconds = checkpoint_seconds
        self.inline = engine.dialect.name == "sqlite"
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="xinyong-inquiry-log")
        self._pending: list[_Item] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing = False
        self._conn: Connection | None = None
        self._paused = False
        self._checkpointing = False
        self._checkpointed = time.monotonic()
        log_file = inquiry_log_file(engine)
        self._log_file = log_file
        self._schema = INQUIRY_SCHEMA if log_file else "main"
        self._spill = SpillFile(log_file, os.getpid()) if log_file else None
        self._spilled: list[_Entry] = []
        self._libpq = libpq_url(engine)
        """PostgreSQL through psycopg: batches are written from the event loop."""
        self._aconn: psycopg.AsyncConnection[Any] | None = None
        self._aconn_loop: asyncio.AbstractEventLoop | None = None
        self._commits: set[asyncio.Future[_Outcomes]] = set()
        """Checks answered from the spill file during a pause, still to be committed."""

    async def record(self, decision: Decision, notice: dict[str, object] | None) -> None:
        """Log a decision; return once it is committed (or raise the error that prevented it)."""
        (done,) = self._enqueue([(decision, notice)])
        await done

    async def record_all(self, entries: Sequence[_Entry]) -> _Outcomes:
        """Log decisions; return once all are committed, with one outcome per decision (None,
        or the error that prevented it)."""
        outcomes: _Outcomes = []
        for done in self._enqueue(entries):
            try:
                await done
            except Exception as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    def _enqueue(self, entries: Sequence[_Entry]) -> list[asyncio.Future[None]]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (an app served again, as in tests)
            self._loop, self._pending, self._writing = loop, [], False
        futures: list[asyncio.Future[None]] = []
        for decision, notice in entries:
            done: asyncio.Future[None] = loop.create_future()
            self._pending.append((decision, notice, done))
            futures.append(done)
        if not self._writing:
            self._writing = True
            # Let the requests that are already runnable join this batch before it is taken.
            loop.call_soon(self._take, loop)
        return futures

    def _take(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return
        batch = self._pending[: self.max_batch]
        if self._paused:  # a checkpoint is finishing: spill the batch, or let _resume take it
            self._spill_batch(loop, batch)
            return
        if self._spilled and not self._commit_spilled():
            loop.call_later(RETRY_SECONDS, self._take, loop)
            return
        if not batch:
            self._writing = False
            return
        if not self.inline:
            del self._pending[: len(batch)]
            entries = [(decision, notice) for decision, notice, _ in batch]
            commit: asyncio.Future[_Outcomes]
            if self._libpq is not None:
                commit = loop.create_task(self._commit_on_loop(entries))
            else:
                commit = loop.run_in_executor(self._thread, self._commit, entries, False)
            commit.add_done_callback(
                lambda done: self._release(loop, batch, _outcomes(done, batch))
            )
            self._commits.add(commit)
            commit.add_done_callback(self._commits.discard)
            return
        try:
            outcomes = self._commit([(decision, notice) for decision, notice, _ in batch], True)
        except WriterBusy:
            loop.call_later(RETRY_SECONDS, self._take, loop)
            return
        del self._pending[: len(batch)]
        self._release(loop, batch, outcomes)
        due = time.monotonic() - self._checkpointed > self.checkpoint_seconds
        if not self._checkpointing and due:
            self._checkpointing = True
            self._thread.submit(self._checkpoint, loop)

    def _checkpoint(self, loop: asyncio.AbstractEventLoop) -> None:
        """Copy the write-ahead log into the file, off the loop (a checkpoint syncs the disk);
        then move the adverse notices written beside the log to the ledger's ``notices``.

        First while checks go on; then, with the loop's writes paused, the few pages written in
        the meantime, so that the next write starts the log over (with the loop appending all
        the time, a checkpoint would otherwise never be complete and the log would grow without
        end). Checks wait only for that second, short step; the loop serves requests meanwhile.
        """
        statement = f"PRAGMA {self._schema}.wal_checkpoint(PASSIVE)"
        try:
            raw = self.engine.raw_connection()
            try:
                driver = raw.driver_connection
                assert driver is not None
                driver.execute(statement)
                paused = threading.Event()
                loop.call_soon_threadsafe(self._pause, paused)
                paused.wait(timeout=5.0)
                try:
                    driver.execute(statement)
                finally:
                    loop.call_soon_threadsafe(self._resume, loop)
            finally:
                raw.close()
        except Exception:
            log.exception("could not checkpoint the inquiry log")
            with contextlib.suppress(RuntimeError):  # the loop may be closed
                loop.call_soon_threadsafe(self._resume, loop)
        if self._schema != "main":
            try:
                move_pending_notices(self.engine)
            except Exception:  # they stay beside the log, shown from there; moved next time
                log.exception("could not move the adverse notices written beside the log")

    def _spill_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        """Answer a batch from the spill file while the log's file is paused."""
        if self._spill is None or not batch:
            return
        entries = [(decision, notice) for decision, notice, _ in batch]
        try:
            self._spill.write(entries)
        except OSError:
            log.exception("could not write the spill file; checks wait for the checkpoint")
            return
        del self._pending[: len(batch)]
        self._spilled += entries
        self._release(loop, batch, [None] * len(batch))

    def _commit_spilled(self) -> bool:
        """Commit the checks answered during the pause; False when the log's file is busy.

        Those the table refuses stay in the spill file (logged, and imported again at the next
        start), so that one bad row does not hold up the others.
        """
        assert self._spill is not None
        try:
            outcomes = self._commit(self._spilled, True)
        except WriterBusy:
            return False
        refused = [e for e, outcome in zip(self._spilled, outcomes, strict=True) if outcome]
        try:
            self._spill.keep_only(refused)
        except OSError:
            log.exception("could not empty the spill file")
        self._spilled = []
        return True

    def recover(self) -> int:
        """Import spill files left by service processes that died (at start, before serving);
        return how many checks were added to the log."""
        return 0 if self._log_file is None else recover_spills(self.engine, self._log_file)

    def close(self) -> None:
        """Commit the checks answered from the spill file during a checkpoint's pause (once a
        checkpoint under way has ended), then release the spill file and the kept connection
        (after the service has stopped answering checks). Checks the log's file does not take
        within :data:`CLOSE_SECONDS` stay in the spill file, imported at the next start."""
        self._thread.shutdown(wait=True)
        if self._spilled:
            self._paused = False
            deadline = time.monotonic() + CLOSE_SECONDS
            while not self._commit_spilled():
                if time.monotonic() > deadline:
                    log.warning(
                        "%d checks stay in the spill file until the next start", len(self._spilled)
                    )
                    break
                time.sleep(0.01)
        if self._spill is not None:
            self._spill.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _pause(self, paused: threading.Event) -> None:
        self._paused = True  # on the loop, so between two batches
        paused.set()

    def _resume(self, loop: asyncio.AbstractEventLoop) -> None:
        self._paused, self._checkpointing = False, False
        self._checkpointed = time.monotonic()
        if (self._pending or self._spilled) and loop is self._loop:
            self._writing = True
            loop.call_soon(self._take, loop)
        else:
            self._writing = False

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
            conn = self._server_conn()
            try:
                with conn.begin():
                    log_decisions(conn, entries)
            except Exception:
                conn.invalidate()  # whatever went wrong, the next batch starts on a new one
                raise
            return
        conn = self._kept()
        try:
            # BEGIN and COMMIT on the driver: SQLAlchemy's transaction bookkeeping costs more than
            # SQLite's commit of a few rows. Adverse notices go beside the log (pending_notices),
            # so only the log's file is written: the ledger's lock, which appends hold for a
            # while, is never waited for, and the ledger's readers keep their page caches.
            if any(notice is not None for _, notice in entries):
                with conn.begin():
                    log_decisions(conn, entries)
                return
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("BEGIN")
            try:
                log_decisions(conn, entries)
                driver.execute("COMMIT")
            except BaseException:
                if driver.in_transaction:
                    driver.execute("ROLLBACK")
                raise
        except (OperationalError, sqlite3.OperationalError) as exc:
            message = str(exc.orig if isinstance(exc, OperationalError) else exc)
            if "locked" in message or "busy" in message:
                raise WriterBusy(message) from exc
            raise

    async def _commit_on_loop(self, entries: list[_Entry]) -> _Outcomes:
        """Write a batch from the event loop on the kept asynchronous connection (PostgreSQL
        through psycopg); one outcome per entry, as :meth:`_commit`."""
        try:
            if self._aconn is None or self._aconn.closed or self._aconn_loop is not self._loop:
                assert self._libpq is not None
                self._aconn = await psycopg.AsyncConnection.connect(self._libpq, **CHECK_CONNECTION)
                await self._aconn.execute(PLAN_ONCE)
                self._aconn_loop = self._loop
            aconn = self._aconn
            # Two round trips: BEGIN, the tree's lock and its head; then the batch, placed in
            # the tree, and COMMIT (committed, and durable, when the pipeline ends).
            async with aconn.pipeline(), aconn.transaction():
                await aconn.execute(INQUIRY_LOCK_SQL)
                head = await (await aconn.execute(HEAD_SQL)).fetchone()
                frontier = Frontier() if head is None else Frontier.from_text(*head)
                rows, written = inquiry_rows(entries)
                placed = place(frontier, rows, utc_now_text())
                params = inquiry_json(rows, written, placed)
                sql, values = INSERT_INQUIRIES.driver_call(self.engine.dialect, params)
                await aconn.execute(sql, values)
        except Exception as exc:
            if self._aconn is not None and self._aconn.broken:
                await self._aconn.close()
            if len(entries) == 1 or isinstance(exc, psycopg.OperationalError):
                # One check, or the database out of reach: trying each check again on its
                # own would only make every check in the batch wait for the same failure.
                log.exception("could not log %d check(s)", len(entries))
                return [exc] * len(entries)
            outcomes: _Outcomes = []
            for entry in entries:  # isolate the failure to the checks that cause it
                outcomes += await self._commit_on_loop([entry])
            return outcomes
        return [None] * len(entries)

    async def aclose(self) -> None:
        """Close the asynchronous connection (PostgreSQL), on the loop that used it."""
        if self._aconn is not None and not self._aconn.closed:
            await self._aconn.close()
        self._aconn = None

    def _server_conn(self) -> Connection:
        """The connection the writer thread commits batches with (a database server): kept, so
        that a batch costs its transaction only, not a pool checkout and a ping."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect().execution_options(**WRITE)
        return self._conn

    def _kept(self) -> Connection:
        """The connection the event loop writes with (SQLite), opened on first use; a taken
        lock fails its write at once (nothing may wait on the loop)."""
        if self._conn is None or self._conn.closed:
            conn = self.engine.connect()
            never_wait(conn)
            # Never checkpoint on the loop: a checkpoint syncs the disk (see _checkpoint).
            conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA wal_autocheckpoint=0"
            )
            self._conn = conn
        return self._conn


def _outcomes(done: asyncio.Future[_Outcomes], batch: list[_Item]) -> _Outcomes:
    """A commit's outcomes; if the commit itself failed or was cancelled, its error for every
    check of the batch (never left waiting)."""
    if done.cancelled():
        return [RuntimeError("the inquiry log's commit was cancelled")] * len(batch)
    error = done.exception()
    return [error] * len(batch) if error is not None else done.result()
