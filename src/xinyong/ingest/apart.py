"""Ingesting a file with its reading, validating, deciding and hashing in a second process.

:func:`~xinyong.ingest.records.ingest_records` in one process runs on one core at a time: its
reading thread and its appending thread take turns on the interpreter's lock, and on SQLite the
appends (the driver binds each row's values holding the lock) leave the reading thread little.
Here a *preparing* process does everything but the writes, with the same functions, and this
process only writes: it holds the write lock, writes rows that arrive hashed, and commits.

Each batch is decided exactly as in one process:

- a batch that the run can decide without the ledger (``_decide_ahead``: the run has found the
  ledger empty of its sources and subjects and is its only writer since) is decided and hashed
  for the positions after the run's last batch while the batch before is written, and written
  only if, under the write lock, the ledger is still as long as that batch left it (no one else
  wrote between); otherwise it is undone and decided again as below;
- any other batch is decided while this process holds the write lock: the preparing process
  looks things up on a connection of its own, which then sees what the lock holder sees (it has
  written nothing yet, and no other appender can commit), and hashes for the positions it reads.

A batch is one transaction, as in one process, so a kill at any moment leaves whole batches and
running the same command again completes the job. If the preparing process dies, this one stops
with an error after its last commit; if this one dies, the preparing process finds its channel
closed and exits.

Entries are stamped (``recorded_at``) when the batch is hashed: a batch hashed ahead, before
the writer has taken the write lock for it (behind the batch before, and any other writer). A
batch hashed ahead is written only if no entry was appended since the run's last batch, so the
stamps still grow with the positions.
"""

from __future__ import annotations

import gc
import marshal
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection as Channel
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine

from xinyong.domain.catalog import Catalog
from xinyong.ingest import records
from xinyong.ingest.collector import fewer_collections
from xinyong.ingest.read_ahead import read_ahead
from xinyong.ingest.readers import count_rows
from xinyong.ingest.records import (
    IngestReport,
    _Checked,
    _decide,
    _decide_ahead,
    _Facts,
    _fresh,
    _Run,
    _validated,
    file_ingested,
)
from xinyong.ingest.rejects import Reject
from xinyong.ingest.validate import REQUIRED_FIELDS, RecordValidator
from xinyong.ledger.append import (
    HashedBatch,
    RecordRow,
    TreeHead,
    append_hashed,
    hash_batch,
    read_frontier,
    utc_now_text,
)
from xinyong.ledger.database import LoadStatistics, appending, open_database
from xinyong.ledger.merkle import Frontier

__all__ = ["PreparerDied", "apart_by_default", "ingest_apart", "prepare"]


class PreparerDied(RuntimeError):
    """The preparing process ended without finishing (killed, or out of memory)."""


APART_FROM_ROWS = 200_000
"""The smallest file (in rows, or estimated from its size) prepared in a second process by
default: starting one costs about 0.7 s, more than a small file takes in one process."""
_BYTES_PER_ROW = 200
"""A CSV or JSON Lines row's usual size, to estimate a file's rows without reading it."""


def apart_by_default(engine: Engine, path: Path) -> bool:
    """Whether an ingest of ``path`` into ``engine``'s ledger prepares in a second process
    unless told: for a file of at least :data:`APART_FROM_ROWS` rows into a SQLite file, when
    this process may run on more than one CPU. (A PostgreSQL server's own work already fills
    the second core during a load; an in-memory ledger cannot be opened by another process.)"""
    if engine.dialect.name != "sqlite" or not _shareable(engine):
        return False
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    if cpus < 2:
        return False
    rows = count_rows(path)
    if rows is None:
        rows = path.stat().st_size // _BYTES_PER_ROW
    return rows >= APART_FROM_ROWS


def _shareable(engine: Engine) -> bool:
    """Whether another process can open ``engine``'s ledger and be handed a channel: a SQLite
    file or a server, on POSIX (the channel is handed over with ``pass_fds``)."""
    if os.name != "posix":
        return False
    if engine.dialect.name != "sqlite":
        return True
    database = engine.url.database or ""
    in_memory = engine.url.query.get("mode") == "memory"
    return database not in ("", ":memory:") and not database.startswith("file:") and not in_memory


# -- messages ------------------------------------------------------------------------------

_GREETING_SECONDS = 120
"""How long the writer waits for a new preparing process to say where it loaded its code from
(its imports take about 0.6 s on an idle machine)."""
_ACCEPTED = "accepted"
"""To the preparing process: the batch hashed ahead is being written as it is."""
_GO = "go"
"""To the preparing process: look things up now (after :class:`_Lookups`)."""


@dataclass(frozen=True, slots=True)
class _Decide:
    """To the preparing process: decide the batch now, for a ledger of ``size`` entries (this
    process holds the write lock)."""

    size: int


@dataclass(frozen=True, slots=True)
class _Packed:
    """A hashed batch as sent: its rows in one ``marshal`` text, which writes and reads the
    ledger's values (text, integers, bytes, None; dates are text on SQLite) several times
    faster than ``pickle``. A batch with other values is sent as it is."""

    start: int
    names: tuple[str, ...]
    rows: bytes
    head: TreeHead
    frontier: str

    @classmethod
    def of(cls, hashed: HashedBatch | None) -> _Packed | HashedBatch | None:
        """``hashed`` packed, where marshal can write its values."""
        if hashed is None:
            return None
        try:
            rows = marshal.dumps([rows for _, rows in hashed.tables])
        except ValueError:  # a date object (PostgreSQL), or another type marshal cannot write
            return hashed
        names = tuple(name for name, _ in hashed.tables)
        return cls(hashed.start, names, rows, hashed.head, hashed.frontier)

    @staticmethod
    def unpacked(sent: _Packed | HashedBatch | None) -> HashedBatch | None:
        """The hashed batch that was sent."""
        if not isinstance(sent, _Packed):
            return sent
        tables = tuple(zip(sent.names, marshal.loads(sent.rows), strict=True))
        return HashedBatch(sent.start, tables, sent.head, sent.frontier)


@dataclass(frozen=True, slots=True)
class _Ready:
    """A batch validated: its input rows, and either the batch hashed ahead, or whether it has
    anything to decide under the write lock (nothing, when every row was set aside before)."""

    rows: int
    hashed: _Packed | HashedBatch | None
    decide: bool


@dataclass(frozen=True, slots=True)
class _Decided:
    """A batch decided under the write lock: hashed (None: nothing goes in), and whether it
    looked anything up in the ledger's large tables."""

    hashed: _Packed | HashedBatch | None
    looked_up: bool


@dataclass(frozen=True, slots=True)
class _Lookups:
    """From the preparing process: it is about to look things up (the statistics for them are
    brought up to date here first, :meth:`LoadStatistics.before_lookups`)."""


@dataclass(frozen=True, slots=True)
class _Hello:
    """The preparing process's first message: where it loaded this module from, which must be
    where the writer did (the same code hashes the same way)."""

    module: str


@dataclass(frozen=True, slots=True)
class _Done:
    """The file is through: what the decisions counted and rejected."""

    duplicates: int
    conflicts: int
    rejects: list[Reject]


@dataclass(frozen=True, slots=True)
class _Failed:
    """The preparing process stopped on an error (a file it cannot read, a bad catalog)."""

    error: BaseException


# -- this process: the writer --------------------------------------------------------------


def ingest_apart(
    engine: Engine,
    path: Path,
    catalog: Catalog,
    *,
    source: str | None,
    batch_size: int,
    today: date | None,
    progress: Callable[[int, int | None], None] | None,
) -> IngestReport:
    """:func:`~xinyong.ingest.records.ingest_records` with a preparing process."""
    if not _shareable(engine):
        raise ValueError(
            "an ingest prepares in a second process only into a ledger that process can open "
            f"(a SQLite file, or PostgreSQL), not {engine.url.render_as_string(hide_password=True)}"
        )
    report = IngestReport(path)
    total = count_rows(path)
    started = time.perf_counter()
    url = engine.url.render_as_string(hide_password=False)
    note = f"ingest {path.name}"
    with _Peer.started() as peer:
        peer.greeted()
        peer.send((url, path, catalog, source, batch_size, today))
        with fewer_collections(), LoadStatistics(engine) as statistics:
            done = (lambda: progress(report.rows, total)) if progress else (lambda: None)
            writer = _Writer(engine, peer, statistics, report, note, done)
            message = peer.receive()
            while not isinstance(message, _Done):
                if not isinstance(message, _Ready):
                    raise PreparerDied(f"unexpected message from the preparing process: {message}")
                message = writer.transaction(message)
            report.duplicates, report.conflicts = message.duplicates, message.conflicts
            report.rejects = message.rejects
            file_ingested(engine, report, source, statistics)
    report.seconds = time.perf_counter() - started
    return report


_GROUP_BATCHES = 4
"""The most batches the writer commits at once. Batches hashed ahead that are already waiting
when a batch is written join its transaction: SQLite then writes the index pages that every
batch touches once per group instead of once per batch. A batch is not held back for it: the
transaction commits as soon as the next batch is not there yet. So a transaction holds at most
four times ``--batch-size`` rows, and a kill still leaves whole batches."""


@dataclass(slots=True)
class _Writer:
    """The writing process's side of an ingest: its ledger, the preparing process, and the
    run's report."""

    engine: Engine
    peer: _Peer
    statistics: LoadStatistics
    report: IngestReport
    note: str
    done: Callable[[], None]
    """Called for each batch once it is committed."""

    def transaction(self, message: _Ready) -> object:
        """Write ``message``'s batch in one transaction, with those that follow it hashed
        ahead while they are already waiting (:data:`_GROUP_BATCHES`). A batch to be decided
        under the write lock starts a transaction of its own: the preparing process looks
        things up on its own connection, which sees only what is committed. If the preparing
        process fails or dies meanwhile, the batches written commit before its error is
        raised. Returns the next message, not yet written."""
        report, peer = self.report, self.peer
        if message.hashed is None and not message.decide:  # nothing to write
            report.rows += message.rows
            self.statistics.add(0, planned=False)
            self.done()
            return peer.receive()
        written: list[tuple[int, bool]] = []  # per batch: records accepted, looked anything up
        following: object = None
        failure: Exception | None = None
        with appending(self.engine, bulk=True) as conn:
            size = records._head_size(conn)  # through the module: a test counts the reads
            while True:
                hashed = _Packed.unpacked(message.hashed)
                if written and (message.decide or (hashed is not None and hashed.start != size)):
                    following = _Ready(message.rows, hashed, message.decide)
                    break
                report.rows += message.rows
                accepted = report.accepted
                planned = False
                if hashed is not None or message.decide:
                    planned, size = _write(
                        conn, size, hashed, peer, self.statistics, report, self.note
                    )
                written.append((report.accepted - accepted, planned))
                if len(written) >= _GROUP_BATCHES or not peer.channel.poll():
                    break
                try:
                    following = peer.receive()
                except Exception as exc:  # its error, or its end: raised once this commits
                    failure = exc
                    break
                if not isinstance(following, _Ready):
                    break
                message, following = following, None
        for accepted, planned in written:  # committed
            self.statistics.add(accepted, planned=planned)
            self.done()
        if failure is not None:
            raise failure
        return peer.receive() if following is None else following


def _write(
    conn: Connection,
    size: int,
    hashed: HashedBatch | None,
    peer: _Peer,
    statistics: LoadStatistics,
    report: IngestReport,
    note: str,
) -> tuple[bool, int]:
    """Write one batch on ``conn``, which holds the write lock and whose ledger is ``size``
    entries long: ``hashed`` (hashed ahead) where it was hashed for that length, else what
    the preparing process decides now. Returns whether the batch looked anything up in the
    ledger, and the ledger's length after it."""
    looked_up = False
    if hashed is not None and hashed.start == size:
        peer.send(_ACCEPTED)
    else:
        peer.send(_Decide(size))
        while isinstance(reply := peer.receive(), _Lookups):
            statistics.before_lookups()
            peer.send(_GO)
        if not isinstance(reply, _Decided):
            raise PreparerDied(f"unexpected message from the preparing process: {reply}")
        hashed, looked_up = _Packed.unpacked(reply.hashed), reply.looked_up
    if hashed is None:
        return looked_up, size
    report.head = append_hashed(conn, hashed, note)
    report.batches += 1
    for table, rows in hashed.tables:
        if table == "records":
            report.accepted += len(rows)
        elif table == "subjects":
            report.new_subjects += len(rows)
    return looked_up, report.head.size


@dataclass(slots=True)
class _Peer:
    """The preparing process, as the writer sees it: the channel to it, the process, and the
    file its standard error goes to (for the message if it dies)."""

    channel: Channel
    process: subprocess.Popen[bytes]
    errors: IO[bytes]

    @classmethod
    @contextmanager
    def started(cls) -> Iterator[_Peer]:
        """A new preparing process, for a ``with`` block; leaving the block closes the channel
        and waits for the process (a few seconds, after which it is killed: the writer stopped
        early, on an error or Ctrl-C, and nothing the process prepares will be written).

        The process is a new interpreter that imports what this one would, from this one's
        ``sys.path`` (``-P``: not from the current directory), and nothing more: not a copy of
        this process (its threads, locks and open files), nor one that runs this program's main
        module again, as ``multiprocessing`` would."""
        with ExitStack() as stack:
            try:
                errors = stack.enter_context(tempfile.TemporaryFile())
                ours, theirs = (stack.enter_context(end) for end in socket.socketpair())
                code = (  # its import path first, from the channel (it may be long)
                    "import sys; from multiprocessing.connection import Connection; "
                    f"channel = Connection({theirs.fileno()}); sys.path[:] = channel.recv(); "
                    "from xinyong.ingest.apart import prepare; prepare(channel)"
                )
                process = subprocess.Popen(
                    [sys.executable, "-P", "-c", code],
                    pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                )
            except (OSError, ValueError) as exc:  # no temporary file, interpreter, process...
                raise PreparerDied(
                    f"cannot start the process preparing the ingest: {exc}"
                ) from None
            peer = cls(Channel(ours.detach()), process, errors)
            theirs.close()  # else a dead preparer's end stays open here
            try:
                path = [os.fspath(p) for p in sys.path if isinstance(p, str | os.PathLike)]
                peer.send(path)
                yield peer
            finally:
                peer.channel.close()
                peer.ended()

    def greeted(self) -> None:
        """Wait for the process's :class:`_Hello`; refuse one that loaded other code, or that
        says nothing (code from before the greeting waits to be told what to do)."""
        if not self.channel.poll(_GREETING_SECONDS):
            self.process.kill()
            raise self.died()
        hello = self.receive()
        if not isinstance(hello, _Hello) or hello.module != __file__:
            raise PreparerDied(
                f"the process preparing the ingest loaded {getattr(hello, 'module', hello)!r}, "
                f"not {__file__!r}; nothing was written"
            )

    def receive(self) -> object:
        """The process's next message; its error raised here."""
        try:
            message = self.channel.recv()
        except (EOFError, OSError):  # a socket whose other end died may also be reset
            raise self.died() from None
        if isinstance(message, _Failed):
            raise message.error
        return message

    def send(self, message: object) -> None:
        """Tell the process ``message``."""
        try:
            self.channel.send(message)
        except OSError:
            raise self.died() from None

    def ended(self) -> None:
        """Wait a few seconds for the process to end, then kill it."""
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def died(self) -> PreparerDied:
        """The error for a process gone before its time (once it has ended), with the last
        line it wrote on its standard error, if any."""
        self.ended()
        self.errors.seek(0)
        lines = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        cause = f" ({lines[-1].strip()})" if lines else ""
        return PreparerDied(
            "the process preparing the ingest ended unexpectedly (exit code "
            f"{self.process.returncode}){cause}; what was committed before stays, and running "
            "the same command again completes it"
        )


# -- the preparing process -----------------------------------------------------------------


def prepare(channel: Channel) -> None:
    """The preparing process's body (:meth:`_Peer.started`), on ``channel``: its errors go to
    the writer, to be raised there."""
    try:
        channel.send(_Hello(__file__))
        url, path, catalog, source, batch_size, today = channel.recv()
        with fewer_collections():
            _Preparer(url, catalog, channel).run(path, source, batch_size, today)
    except KeyboardInterrupt:
        return  # Ctrl-C reaches both processes: the writer stops too
    except BaseException as exc:
        try:  # the writer raises it; or, if the writer is gone, no one needs telling
            channel.send(_Failed(_picklable(exc)))
        except (OSError, ValueError):
            return
    finally:
        channel.close()
    os._exit(0)  # done: the run's memory need not be freed object by object


def _picklable(exc: BaseException) -> BaseException:
    """``exc``, or a RuntimeError with its text where pickle cannot carry it."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class _Preparer:
    """Reads, validates, decides and hashes the file's batches, in order, for the writer."""

    def __init__(self, url: str, catalog: Catalog, channel: Channel) -> None:
        self.engine = open_database(url, migrate=False, create=False)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.catalog = catalog
        self.channel = channel
        self.run_state = _Run()
        self.report = IngestReport(Path())
        self.frontier: Frontier | None = None
        """The tree after the run's last batch, once the run has decided one under the lock."""

    def run(self, path: Path, source: str | None, batch_size: int, today: date | None) -> None:
        """Every batch of ``path``, then the counts and rejects."""
        validator = RecordValidator(self.catalog, source=source, today=today)
        required = [name for name in REQUIRED_FIELDS if not (name == "source" and source)]
        validated = _validated(path, validator, required, batch_size)
        try:
            with closing(validated), closing(read_ahead(validated)) as batches:
                for checked in batches:
                    self.report.rejects.extend(checked.rejects)
                    self.batch(checked)
                    # What lives on (the run's keys, a tuple per row) is not walked by the
                    # collector again; this process ends with os._exit, which frees it all
                    gc.freeze()
        finally:
            self.engine.dispose()
        report = self.report
        self.channel.send(_Done(report.duplicates, report.conflicts, report.rejects))

    def batch(self, checked: _Checked) -> None:
        """One batch to the writer: hashed ahead where it can be, else decided when asked."""
        run = self.run_state
        ahead = _decide_ahead(checked, run) if self.frontier is not None else None
        if ahead is not None and self.frontier is not None:
            frontier = self.frontier.copy()
            hashed = hash_batch(ahead.batch, frontier, utc_now_text(), sqlite=self.sqlite)
            self.channel.send(_Ready(checked.rows, _Packed.of(hashed), decide=False))
            verdict = self.channel.recv()
            if verdict == _ACCEPTED:
                self.frontier, run.last_size = frontier, frontier.size
                return
            ahead.undo(run)  # someone else wrote since the run's last batch: decide again
            fresh, facts = _fresh(checked.good, checked.facts, run, self.report)
        else:
            fresh, facts = _fresh(checked.good, checked.facts, run, self.report)
            if not fresh:
                self.channel.send(_Ready(checked.rows, None, decide=False))
                return
            self.channel.send(_Ready(checked.rows, None, decide=True))
            verdict = self.channel.recv()
        if not isinstance(verdict, _Decide):
            raise RuntimeError(f"unexpected message from the writer: {verdict!r}")
        self.channel.send(self.decided(fresh, facts, verdict.size))

    def decided(self, fresh: Sequence[tuple[int, RecordRow]], facts: _Facts, size: int) -> _Decided:
        """``fresh`` (the batch's rows whose keys the run has not taken; ``facts``: theirs)
        decided for a ledger of ``size`` entries, whose writer holds the write lock."""
        run = self.run_state
        with self.engine.connect() as conn, conn.begin():
            if not self.sqlite:  # a lock queued between this read and the writer's: no hang
                conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
            batch, looked_up = _decide(
                conn, size, fresh, facts, run, self.report, self.catalog, self.before_lookups
            )
            frontier = read_frontier(conn)
        if frontier.size != size:  # the lock holder's ledger is not the one read here
            raise RuntimeError(f"the ledger read {frontier.size} entries long, not {size}")
        hashed = None
        if len(batch):
            hashed = hash_batch(batch, frontier, utc_now_text(), sqlite=self.sqlite)
        self.frontier, run.last_size = frontier, frontier.size
        return _Decided(_Packed.of(hashed), looked_up)

    def before_lookups(self) -> None:
        """Have the writer bring the planner's statistics up to date before a lookup."""
        self.channel.send(_Lookups())
        if (reply := self.channel.recv()) != _GO:
            raise RuntimeError(f"unexpected message from the writer: {reply!r}")
