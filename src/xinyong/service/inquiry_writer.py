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
decided in one iteration, sends them as one message over a socket pair (a length and a pickle of
plain tuples, through asyncio's transports, so neither side ever blocks on the socket), and
releases each request when the writer's reply says its check is committed. A check is still in
the log before its answer leaves, so every reader (the subject's file, replay, the correction
sweep) finds it there. Up to :data:`IN_FLIGHT` messages are on their way at once (the writer
commits them together); with only one, the loop sat idle while a commit was under way.

If the writer dies, the checks of the message in flight fail: whether they were committed is not
known, so they are not answered. The service then logs checks in its own process (after importing
the dead writer's spill file) and says so in its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import pickle
import signal
import socket
from collections.abc import Callable
from dataclasses import fields
from multiprocessing.process import BaseProcess
from operator import attrgetter
from typing import Any

from sqlalchemy import Engine

from xinyong.decisions.checks import Decision
from xinyong.service.inquiry_log import InquiryLog

__all__ = ["IN_FLIGHT", "MAX_MESSAGE", "START_SECONDS", "InquiryNotLogged", "InquiryWriter"]

log = logging.getLogger("xinyong.inquiries")

MAX_MESSAGE = 512
"""Checks per message to the writer (a larger batch waits for the next message)."""
IN_FLIGHT = 4
"""Messages sent and not yet answered, at most; further checks collect for the next."""
START_SECONDS = 120.0
"""How long the service waits for a new writer to open the log."""
STOP_SECONDS = 30.0
"""How long the service waits at shutdown for the writer to commit what it holds."""

_Notice = dict[str, object] | None
_Item = tuple[Decision, _Notice, "asyncio.Future[None]"]
_row = attrgetter(*(field.name for field in fields(Decision)))
"""A decision as a plain tuple of its fields (pickled several times faster than the object)."""


class InquiryNotLogged(RuntimeError):
    """A check could not be confirmed in the inquiry log, so it is not answered."""


class _Frames(asyncio.Protocol):
    """Length-prefixed pickles over a stream socket, in both directions."""

    def __init__(
        self, on_message: Callable[[Any], None], on_lost: Callable[[BaseException], None]
    ) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, message: object) -> None:
        assert self.transport is not None
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
        # Keep the socket open for writing: the writer still answers what it holds.
        self._on_lost(EOFError("the other side closed the socket"))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(exc or EOFError("the socket was closed"))


class InquiryWriter:
    """The service's side of the writer process (see the module's docstring).

    Until :meth:`started` (and after the writer is lost) checks are logged in this process by an
    :class:`~xinyong.service.inquiry_log.InquiryLog`, which also imports spill files at start.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.local = InquiryLog(engine)
        self._process: BaseProcess | None = None
        self._frames: _Frames | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[None] | None = None
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
        ours, theirs = socket.socketpair()
        url = self.engine.url.render_as_string(hide_password=False)
        process = context.Process(
            target=serve_writer, args=(url, theirs), name="xinyong-inquiry-writer", daemon=True
        )
        process.start()
        theirs.close()
        loop = asyncio.get_running_loop()
        self._loop, self._process, self._ready = loop, process, loop.create_future()
        _, self._frames = await loop.connect_accepted_socket(
            lambda: _Frames(self._on_reply, self._lost), sock=ours
        )
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), START_SECONDS)
        except TimeoutError:
            self._lost(TimeoutError(f"the writer did not start within {START_SECONDS:.0f} s"))
        if self._frames is None:
            raise RuntimeError("the inquiry writer did not start")
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
        if len(self._in_flight) < IN_FLIGHT and not self._sending:
            self._sending = True
            # Let the requests that are already runnable join this message before it is sent.
            loop.call_soon(self._send)
        await done

    def _send(self) -> None:
        self._sending = False
        if len(self._in_flight) >= IN_FLIGHT or not self._pending or self._frames is None:
            return
        batch = self._pending[:MAX_MESSAGE]
        del self._pending[: len(batch)]
        self._sent += 1
        self._in_flight[self._sent] = batch
        self._frames.send((self._sent, [(_row(d), notice) for d, notice, _ in batch]))

    def _on_reply(self, message: Any) -> None:
        if message == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            return
        number, outcomes = message
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
        """The writer is gone: fail the messages in flight, log the rest in this process."""
        frames, process, loop = self._frames, self._process, self._loop
        self._frames = self._process = None
        if process is None:  # closed on purpose, or already handled
            return
        log.error(
            "the inquiry writer (pid %s) stopped (%s); checks are logged in the service's "
            "process from now on",
            process.pid,
            exc,
        )
        if frames is not None and frames.transport is not None:
            frames.transport.abort()
        if process.is_alive():
            process.kill()
        for batch in self._in_flight.values():
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(
                        InquiryNotLogged("the inquiry writer stopped before confirming this check")
                    )
        self._in_flight = {}
        pending, self._pending = self._pending, []
        if loop is not None and not loop.is_closed():
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
        frames, process = self._frames, self._process
        self._frames = self._process = None
        if frames is not None and frames.transport is not None:
            # Half-close: the writer reads the end of the stream, commits and exits.
            with contextlib.suppress(OSError, RuntimeError):
                frames.transport.write_eof()
        if process is not None:
            process.join(STOP_SECONDS)
            if process.is_alive():
                log.error("the inquiry writer did not stop in %.0f s; killed", STOP_SECONDS)
                process.kill()
                process.join(5)
        if frames is not None and frames.transport is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed
                frames.transport.close()
        self.local.close()


def serve_writer(url: str, sock: socket.socket) -> None:
    """The writer process: log the checks the service sends until the service closes the
    socket (at its stop, or by dying)."""
    # Ctrl+C reaches the whole process group; the service stops the writer when it is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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

    def on_message(message: tuple[int, list[tuple[tuple[Any, ...], _Notice]]]) -> None:
        number, rows = message
        task = loop.create_task(_write(inquiry_log, frames, number, rows))
        writing.add(task)
        task.add_done_callback(writing.discard)

    def on_end(_: BaseException) -> None:
        if not ended.done():
            ended.set_result(None)

    _, frames = await loop.connect_accepted_socket(lambda: _Frames(on_message, on_end), sock=sock)
    frames.send("ready")
    await ended
    if writing:
        await asyncio.gather(*writing, return_exceptions=True)


async def _write(
    inquiry_log: InquiryLog,
    frames: _Frames,
    number: int,
    rows: list[tuple[tuple[Any, ...], _Notice]],
) -> None:
    outcomes = await inquiry_log.record_all([(Decision(*row), notice) for row, notice in rows])
    reply = [None if o is None else f"{o.__class__.__name__}: {o}" for o in outcomes]
    if frames.transport is not None and not frames.transport.is_closing():
        frames.send((number, reply))
