"""The inquiry log written by a process of its own (a SQLite ledger in a file).

On the check benchmark, writing the log cost the event loop nearly as much as deciding the check.
Each check adds a row to three indexes of the log's file, one of them (by subject) on a random
page, and every page a commit touched is written to the write-ahead log: about 30 microseconds
of SQLite per check on a log of a million rows, while every other request on the loop waits. A
thread does not help, since the interpreter lock changes hands at every row (measured: fewer
checks per second than on the loop).

So by default (setting ``inquiry_process``) a writer process owns the log's writes. It runs the
same group commit as before (:class:`~xinyong.service.inquiry_log.InquiryLog`, with its
checkpoints and spill file) on an event loop of its own. The service's loop collects the checks
decided in one iteration, sends them as one message over a socket pair, and releases each request
when the writer's reply says its check is committed. A check is still in the log before its answer
leaves, so every reader (the subject's file, replay, the correction sweep) finds it there. Up to
:data:`IN_FLIGHT` messages are on their way at once (the writer commits them together); with only
one, the loop sat idle while a commit was under way.

If the writer dies, the checks of the message in flight fail: whether they were committed is not
known, so they are not answered. The service then logs checks in its own process (after importing
the dead writer's spill file) and says so in its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess

from sqlalchemy import Engine

from xinyong.decisions.checks import Decision
from xinyong.service.inquiry_log import InquiryLog

__all__ = ["MAX_MESSAGE", "START_SECONDS", "InquiryNotLogged", "InquiryWriter"]

log = logging.getLogger("xinyong.inquiries")

MAX_MESSAGE = 512
"""Checks per message to the writer (a larger batch waits for the next message)."""
IN_FLIGHT = 4
"""Messages sent and not yet answered, at most; further checks collect for the next."""
START_SECONDS = 120.0
"""How long the service waits for a new writer to open the log."""
STOP_SECONDS = 30.0
"""How long the service waits at shutdown for the writer to commit what it holds."""

_Entry = tuple[Decision, dict[str, object] | None]
_Item = tuple[Decision, dict[str, object] | None, "asyncio.Future[None]"]


class InquiryNotLogged(RuntimeError):
    """A check could not be confirmed in the inquiry log, so it is not answered."""


class InquiryWriter:
    """The service's side of the writer process (see the module's docstring).

    Until :meth:`started` (and after the writer is lost) checks are logged in this process by an
    :class:`~xinyong.service.inquiry_log.InquiryLog`, which also imports spill files at start.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.local = InquiryLog(engine)
        self._process: BaseProcess | None = None
        self._pipe: Pipe | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Item] = []
        self._in_flight: dict[int, list[_Item]] = {}
        self._sent = 0
        self._sending = False

    def recover(self) -> int:
        """Import spill files left by processes that died (before :meth:`started`)."""
        return self.local.recover()

    async def started(self) -> int:
        """Start the writer process and wait until it has opened the log; return its pid."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        url = self.engine.url.render_as_string(hide_password=False)
        process = context.Process(
            target=serve_writer, args=(url, theirs), name="xinyong-inquiry-writer", daemon=True
        )
        process.start()
        theirs.close()
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, ours.poll, START_SECONDS)
        if not ready or ours.recv() != "ready":
            process.kill()
            ours.close()
            raise RuntimeError(f"the inquiry writer did not start within {START_SECONDS:.0f} s")
        self._loop, self._pipe, self._process = loop, ours, process
        loop.add_reader(ours.fileno(), self._on_reply)
        assert process.pid is not None
        return process.pid

    def pid(self) -> int | None:
        """The writer process's id while it writes the log (for operators and tests)."""
        return None if self._pipe is None or self._process is None else self._process.pid

    async def record(self, decision: Decision, notice: dict[str, object] | None) -> None:
        """Log a decision; return once it is committed (or raise the error that prevented it)."""
        loop = asyncio.get_running_loop()
        if self._pipe is None or loop is not self._loop:
            await self.local.record(decision, notice)
            return
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((decision, notice, done))
        if len(self._in_flight) < IN_FLIGHT and not self._sending:
            self._sending = True
            # Let the requests that are already runnable join this message before it is sent.
            loop.call_soon(self._send)
        await done

    def _send(self) -> None:
        self._sending = False
        if len(self._in_flight) >= IN_FLIGHT or not self._pending or self._pipe is None:
            return
        batch = self._pending[:MAX_MESSAGE]
        del self._pending[: len(batch)]
        self._sent += 1
        self._in_flight[self._sent] = batch
        try:
            self._pipe.send((self._sent, [(decision, notice) for decision, notice, _ in batch]))
        except OSError as exc:
            self._lost(exc)

    def _on_reply(self) -> None:
        assert self._pipe is not None
        try:
            number, outcomes = self._pipe.recv()
        except (EOFError, OSError) as exc:
            self._lost(exc)
            return
        batch = self._in_flight.pop(number)
        for (_, _, done), outcome in zip(batch, outcomes, strict=True):
            if done.cancelled():
                continue
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(InquiryNotLogged(outcome))
        if self._pending:
            self._send()

    def _lost(self, exc: BaseException) -> None:
        """The writer is gone: fail the message in flight, log the rest in this process."""
        pid = self._process.pid if self._process else None
        log.error(
            "the inquiry writer (pid %s) stopped (%s); checks are logged in the service's "
            "process from now on",
            pid,
            exc.__class__.__name__,
        )
        loop, pipe, process = self._loop, self._pipe, self._process
        self._pipe = self._process = None
        if pipe is not None:
            assert loop is not None
            loop.remove_reader(pipe.fileno())
            pipe.close()
        if process is not None and process.is_alive():
            process.kill()
        for batch in self._in_flight.values():
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(
                        InquiryNotLogged("the inquiry writer stopped before confirming this check")
                    )
        self._in_flight = {}
        pending, self._pending = self._pending, []
        if loop is not None:
            loop.create_task(self._take_over(pending))

    async def _take_over(self, pending: list[_Item]) -> None:
        """Import the dead writer's spill file, then log what was waiting for it here."""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.local.recover)
        except Exception:
            log.exception("could not import the inquiry writer's spill file")
        outcomes = await self.local.record_all([(d, n) for d, n, _ in pending])
        for (_, _, done), outcome in zip(pending, outcomes, strict=True):
            if done.done():
                continue
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)

    def close(self) -> None:
        """Stop the writer once it has committed what it holds (after the service has stopped
        answering checks)."""
        pipe, process, loop = self._pipe, self._process, self._loop
        self._pipe = self._process = None
        if pipe is not None and process is not None:
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(Exception):
                    loop.remove_reader(pipe.fileno())
            with contextlib.suppress(OSError):
                pipe.send(None)
            process.join(STOP_SECONDS)
            if process.is_alive():
                log.error("the inquiry writer did not stop in %.0f s; killed", STOP_SECONDS)
                process.kill()
                process.join(5)
            pipe.close()
        self.local.close()


def serve_writer(url: str, pipe: Pipe) -> None:
    """The writer process: log the checks the service sends until it sends None or goes away."""
    # Ctrl+C reaches the whole process group; the service stops the writer when it is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from xinyong.ledger.database import open_database

    engine = open_database(url, migrate=False)
    inquiry_log = InquiryLog(engine)
    try:
        asyncio.run(_serve(inquiry_log, pipe))
    finally:
        inquiry_log.close()
        engine.dispose()


async def _serve(inquiry_log: InquiryLog, pipe: Pipe) -> None:
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()
    writing: set[asyncio.Task[None]] = set()

    def on_message() -> None:
        try:
            message: tuple[int, Sequence[_Entry]] | None = pipe.recv()
        except (EOFError, OSError):
            message = None
        if message is None:
            loop.remove_reader(pipe.fileno())
            if not stopped.done():
                stopped.set_result(None)
            return
        task = loop.create_task(_write(inquiry_log, pipe, *message))
        writing.add(task)
        task.add_done_callback(writing.discard)

    loop.add_reader(pipe.fileno(), on_message)
    pipe.send("ready")
    await stopped
    if writing:
        await asyncio.gather(*writing, return_exceptions=True)


async def _write(inquiry_log: InquiryLog, pipe: Pipe, number: int, batch: Sequence[_Entry]) -> None:
    outcomes = await inquiry_log.record_all(batch)
    reply = [None if o is None else f"{o.__class__.__name__}: {o}" for o in outcomes]
    with contextlib.suppress(OSError):  # the service is gone; what was committed stays
        pipe.send((number, reply))
