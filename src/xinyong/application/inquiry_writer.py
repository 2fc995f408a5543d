"""The inquiry log written by a process of its own (a SQLite ledger in a file).

On the check benchmark, writing the log cost the event loop nearly as much as deciding the check.
Each check adds a row to three indexes of the log's file, one of them (by subject) on a random
page, and every page a commit touched is written to the write-ahead log: about 30 microseconds
of SQLite per check on a log of a million rows, while every other request on the loop waits. A
thread does not help, since the interpreter lock changes hands at every row (measured: fewer
checks per second than on the loop).

So by default (setting ``inquiry_process``) a writer process owns the log's writes. It runs the
same group commit as before (:class:`~xinyong.application.inquiry_log.InquiryLog`, with its
checkpoints and spill file) on an event loop of its own. The service's loop collects the checks
decided in one iteration, sends them as one message over a socket pair (a length and a pickle of
plain tuples, through asyncio's transports, so neither side ever blocks on the socket), and
releases each request when the writer's reply says its check is committed. A check is still in
the log before its answer leaves, so every reader (the subject's file, replay, the correction
sweep) finds it there. Up to :data:`IN_FLIGHT` messages are on their way at once (the writer
commits them together); with only one, the loop sat idle while a commit was under way.

If the writer dies, or does not answer a message within :data:`ANSWER_SECONDS`, the checks it
had not confirmed fail: whether they were committed is not known, so they are not answered. The
service then logs checks in its own process (after importing the writer's spill file) and says so
in its log; the same if the writer cannot start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import fields
from multiprocessing.process import BaseProcess
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import Engine

from xinyong.application.inquiry_log import InquiryLog
from xinyong.application.lifeline import run_helper
from xinyong.decisions.checks import Decision

__all__ = [
    "ANSWER_SECONDS",
    "IN_FLIGHT",
    "MAX_MESSAGE",
    "START_SECONDS",
    "STOP_SECONDS",
    "InquiryNotLogged",
    "InquiryWriter",
]

log = logging.getLogger("xinyong.inquiries")

MAX_MESSAGE = 512
"""Checks per message to the writer (a larger batch waits for the next message)."""
IN_FLIGHT = 4
"""Messages sent and not yet answered, at most; further checks collect for the next."""
START_SECONDS = 120.0
"""How long the service waits for a new writer to open the log."""
ANSWER_SECONDS = 30.0
"""How long a message may wait for the writer's answer before the writer is given up."""
STOP_SECONDS = 30.0
"""How long the service waits at shutdown for the writer to commit what it holds."""
READY = "ready"
"""The writer's first message: the log is open."""

_Notice = dict[str, object] | None
_Item = tuple[Decision, _Notice, "asyncio.Future[None]"]
_Rows = list[tuple[tuple[Any, ...], _Notice]]
_row = attrgetter(*(field.name for field in fields(Decision)))
"""A decision as a plain tuple of its fields (pickled several times faster than the object)."""


class InquiryNotLogged(RuntimeError):
    """A check could not be confirmed in the inquiry log, so it is not answered."""


class _Frames(asyncio.Protocol):
    """Length-prefixed pickles over a stream socket, in both directions."""

    def __init__(
        self, on_message: Callable[[Any], None], on_end: Callable[[BaseException], None]
    ) -> None:
        self._on_message = on_message
        self._on_end = on_end
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream socket's transport; uvloop's do not subclass asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)

    def send(self, message: object) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.transport.write(len(payload).to_bytes(4, "big") + payload)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 4:
            end = 4 + int.from_bytes(buffer[:4], "big")
            if len(buffer) < end:
                break
            message = pickle.loads(buffer[4:end])
            del buffer[:end]
            self._on_message(message)

    def eof_received(self) -> bool:
        # The other side is done sending. Keep our direction open: the writer still answers
        # what it holds (the service's side gives the writer up at once, see InquiryWriter._lost).
        self._on_end(EOFError("the other side closed the socket"))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_end(exc or EOFError("the socket was closed"))


class InquiryWriter:
    """The service's side of the writer process (see the module's docstring).

    Until :meth:`started` (and after the writer is lost) checks are logged in this process by an
    :class:`~xinyong.application.inquiry_log.InquiryLog`, which also imports spill files at start.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.local = InquiryLog(engine)
        self._process: BaseProcess | None = None
        self._frames: _Frames | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[None] | None = None
        self._pending: list[_Item] = []
        self._in_flight: dict[int, tuple[float, list[_Item]]] = {}
        self._sent = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def recover(self) -> int:
        """Import spill files left by processes that died (before :meth:`started`)."""
        return self.local.recover()

    async def started(self) -> int | None:
        """Start the writer process and wait until it has opened the log; return its pid, or
        None when it could not start (checks are then logged in this process)."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = socket.socketpair()
        url = self.engine.url.render_as_string(hide_password=False)
        process = context.Process(
            target=run_helper,
            args=(os.getpid(), f"{__name__}:serve_writer", url, theirs),
            name="xinyong-inquiry-writer",
            daemon=True,
        )
        process.start()
        theirs.close()
        loop = asyncio.get_running_loop()
        self._loop, self._process, self._ready = loop, process, loop.create_future()
        self._pending, self._in_flight, self._scheduled = [], {}, False
        _, self._frames = await loop.connect_accepted_socket(
            lambda: _Frames(self._on_reply, self._lost), sock=ours
        )
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), START_SECONDS)
        except TimeoutError:
            self._lost(TimeoutError(f"it did not open the log within {START_SECONDS:.0f} s"))
        except Exception:  # _lost: the writer died while starting, and has been reported
            pass
        if self._frames is None:
            return None
        loop.call_later(1.0, self._watch)
        assert process.pid is not None
        return process.pid

    def pid(self) -> int | None:
        """The writer process's id while it writes the log (for operators and tests)."""
        return None if self._frames is None or self._process is None else self._process.pid

    async def record(self, decision: Decision, notice: _Notice) -> None:
        """Log a decision; return once it is committed (or raise the error that prevented it)."""
        loop = asyncio.get_running_loop()
        if self._frames is None or loop is not self._loop:
            await self.local.record(decision, notice)
            return
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((decision, notice, done))
        if len(self._in_flight) < IN_FLIGHT and not self._scheduled:
            self._scheduled = True
            # Let the requests that are already runnable join this message before it is sent.
            loop.call_soon(self._send_scheduled)
        await done

    def _send_scheduled(self) -> None:
        self._scheduled = False
        self._send()

    def _send(self) -> None:
        if len(self._in_flight) >= IN_FLIGHT or not self._pending or self._frames is None:
            return
        batch = self._pending[:MAX_MESSAGE]
        del self._pending[: len(batch)]
        self._sent += 1
        assert self._loop is not None
        self._in_flight[self._sent] = (self._loop.time(), batch)
        self._frames.send((self._sent, [(_row(d), notice) for d, notice, _ in batch]))

    def _on_reply(self, message: Any) -> None:
        if message == READY:
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            return
        number, outcomes = message
        sent = self._in_flight.get(number)
        if sent is None or len(sent[1]) != len(outcomes):
            self._lost(RuntimeError(f"an answer that matches no message ({number})"))
            return
        del self._in_flight[number]
        _settle(sent[1], [None if o is None else InquiryNotLogged(o) for o in outcomes])
        self._send()

    def _watch(self) -> None:
        """Give the writer up when a message has waited too long for its answer (a writer
        stopped or stuck never closes its socket)."""
        if self._frames is None or self._loop is None:
            return
        now = self._loop.time()
        if any(now - sent > ANSWER_SECONDS for sent, _ in self._in_flight.values()):
            self._lost(TimeoutError(f"a message waited more than {ANSWER_SECONDS:.0f} s"))
            return
        self._loop.call_later(1.0, self._watch)

    def _lost(self, exc: BaseException) -> None:
        """The writer is gone: fail the messages in flight, log the rest in this process."""
        frames, process, loop = self._frames, self._process, self._loop
        self._frames = self._process = None
        if process is None:  # closed on purpose, or already handled
            return
        log.error(
            "the inquiry writer (pid %s) stopped or did not start (%s); checks are logged in "
            "the service's process from now on",
            process.pid,
            exc,
        )
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(InquiryNotLogged(str(exc)))
            self._ready.exception()  # retrieved: started() reports it by returning None
        if frames is not None and frames.transport is not None:
            frames.transport.abort()
        if process.is_alive():
            process.kill()
        lost = InquiryNotLogged("the inquiry writer stopped before confirming this check")
        for _, batch in self._in_flight.values():
            _settle(batch, [lost] * len(batch))
        self._in_flight = {}
        pending, self._pending = self._pending, []
        if loop is not None and not loop.is_closed():
            task = loop.create_task(self._take_over(process, pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _take_over(self, process: BaseProcess, pending: list[_Item]) -> None:
        """Import the writer's spill file once it has exited (it holds a lock on the file until
        then), then log what was waiting for it here."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, process.join, 10.0)
            await loop.run_in_executor(None, self.local.recover)
        except Exception:
            log.exception("could not import the inquiry writer's spill file")
        _settle(pending, await self.local.record_all([(d, n) for d, n, _ in pending]))

    async def stop(self) -> None:
        """Stop the writer once it has committed what it holds (after the service has stopped
        answering checks); checks still waiting for it fail."""
        frames, process = self._frames, self._process
        self._frames = self._process = None
        if frames is not None and frames.transport is not None:
            # Half-close: the writer reads the end of the stream, commits and exits.
            with contextlib.suppress(OSError, RuntimeError):
                frames.transport.write_eof()
        if process is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, process.join, STOP_SECONDS)
            if process.is_alive():
                log.error("the inquiry writer did not stop in %.0f s; killed", STOP_SECONDS)
                process.kill()
                await loop.run_in_executor(None, process.join, 5.0)
        if frames is not None and frames.transport is not None:
            frames.transport.close()
        stopped = InquiryNotLogged("the service stopped before the check was logged")
        for batch in [*(batch for _, batch in self._in_flight.values()), self._pending]:
            _settle(batch, [stopped] * len(batch))
        self._in_flight, self._pending = {}, []
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def close(self) -> None:
        """Release what this process holds for the log (after :meth:`stop`)."""
        self.local.close()


def _settle(items: Sequence[_Item], outcomes: Sequence[BaseException | None]) -> None:
    """Release the requests waiting for ``items``: each with its outcome (None: logged)."""
    for (_, _, done), outcome in zip(items, outcomes, strict=True):
        if done.done():
            continue
        if outcome is None:
            done.set_result(None)
        else:
            done.set_exception(outcome)


def serve_writer(url: str, sock: socket.socket) -> None:
    """The writer process: log the checks the service sends until the service closes the
    socket (at its stop, or by dying)."""
    # Signals to stop reach the whole process group (Ctrl+C, systemd's stop); the writer
    # finishes when the service, done answering, closes the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # (started by run_helper: a service killed outright never closes the socket, so the writer
    # follows the service's process instead)
    from xinyong.ledger.database import open_database

    engine = open_database(url, migrate=False)
    inquiry_log = InquiryLog(engine)
    try:
        asyncio.run(_serve(inquiry_log, sock))
    finally:
        inquiry_log.close()
        engine.dispose()


async def _serve(inquiry_log: InquiryLog, sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    writing: set[asyncio.Task[None]] = set()

    def on_message(message: tuple[int, _Rows]) -> None:
        task = loop.create_task(_write(inquiry_log, frames, *message))
        writing.add(task)
        task.add_done_callback(writing.discard)

    def on_end(_: BaseException) -> None:
        if not ended.done():
            ended.set_result(None)

    frames = _Frames(on_message, on_end)
    await loop.connect_accepted_socket(lambda: frames, sock=sock)
    frames.send(READY)
    await ended
    if writing:
        await asyncio.gather(*writing, return_exceptions=True)


async def _write(inquiry_log: InquiryLog, frames: _Frames, number: int, rows: _Rows) -> None:
    """Commit a message's checks and answer it: one outcome per check, None or the error."""
    try:
        decided = [(Decision(*row), notice) for row, notice in rows]
        outcomes = await inquiry_log.record_all(decided)
        reply = [None if o is None else f"{o.__class__.__name__}: {o}" for o in outcomes]
    except Exception as exc:
        log.exception("could not log a message of %d checks", len(rows))
        reply = [f"{exc.__class__.__name__}: {exc}"] * len(rows)
    frames.send((number, reply))
