"""Opening the ledger database: URL resolution, engine settings, migrations.

The default is an embedded SQLite file ``./xinyong.db``; any SQLAlchemy URL works through
``--db URL`` or ``XINYONG_DATABASE_URL`` (PostgreSQL: ``postgresql+psycopg://...``).

SQLite is opened in WAL mode with ``synchronous=NORMAL``: a committed batch survives a killed
process, readers never block the writer, and the ledger's own hashes detect anything worse.
Transactions are begun explicitly so that an append can take the write lock up front before it
reads the tree head it extends. A SQLite ledger is two files (the ledger and its inquiry log,
:func:`inquiry_log_path`), each with its own write lock; a writer takes only the lock of the file
it writes (:func:`take_write_lock`), never both by default as ``BEGIN IMMEDIATE`` would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from alembic.config import Config

__all__ = [
    "ANALYZE_AFTER_ROWS",
    "BULK_CHECKPOINT_PAGES",
    "CHECK_CONNECTION",
    "DEFAULT_URL",
    "ENV_VAR",
    "INQUIRY_LOCK_SQL",
    "INQUIRY_SCHEMA",
    "PLAN_ONCE",
    "WRITE",
    "WRITE_LOCK",
    "AnalyseStop",
    "ForeignInquiryLog",
    "LoadStatistics",
    "NoLedger",
    "after_bulk_load",
    "analyse",
    "appending",
    "database_error",
    "fold_log",
    "hold_append_lock",
    "hold_inquiry_lock",
    "hold_lock",
    "hold_operations_lock",
    "inquiry_log_file",
    "inquiry_log_path",
    "ledger_place",
    "ledger_unanalysed",
    "libpq_url",
    "never_wait",
    "one_snapshot",
    "open_database",
    "refresh_if_stale",
    "resolve_url",
    "take_write_lock",
    "upgrade",
]

log = logging.getLogger("xinyong.ledger")

DEFAULT_URL = "sqlite:///xinyong.db"
ENV_VAR = "XINYONG_DATABASE_URL"
WRITE_LOCK: dict[str, Any] = {"xinyong_begin": "BEGIN IMMEDIATE", "xinyong_append": True}
"""Execution options for a connection that will append to the ledger: take the write lock at
BEGIN (SQLite's single writer of the ledger file; on PostgreSQL an advisory lock serializing
appends)."""
WRITE: dict[str, Any] = {"xinyong_begin": "BEGIN IMMEDIATE"}
"""Execution options for a transaction that writes but never appends: on SQLite it takes the
ledger file's write lock at BEGIN, as any writer must; on PostgreSQL it runs beside appends.
(A SQLite writer that must never sleep in the busy handler uses :func:`never_wait`.)"""

_MIGRATIONS = Path(__file__).with_name("migrations")
_HOLDS_WRITER = "xinyong_holds_writer"
_NOWAIT = "xinyong_nowait"
_BULK = "xinyong_bulk"
_CHECKPOINT_PAGES = 1_000
"""SQLite's default: a commit after which the log holds more pages folds it into the file."""
BULK_CHECKPOINT_PAGES = 65_536
"""The same for a load's batches (:func:`appending`): 256 MiB of log at 4 KiB pages."""
INQUIRY_SCHEMA = "inquiry_log"
"""The name a SQLite ledger's inquiry log file is attached as (:func:`inquiry_log_path`)."""
_PG_APPEND_LOCK = 0x78696E79  # "xiny": advisory lock key serializing appends on PostgreSQL
_PG_NAMED_LOCKS = 0x78796E6C  # "xynl": the first half of the keys of hold_lock's locks
_PG_OPERATIONS_LOCK = 0x78796F70  # "xyop": appends to the operations log
_PG_INQUIRY_LOCK = 0x78796971  # "xyiq": appends to the inquiry log's tree
_TAKE_LOCK = {
    "main": "DELETE FROM main.alembic_version WHERE 0",
    INQUIRY_SCHEMA: f"DELETE FROM {INQUIRY_SCHEMA}.log_owner WHERE 0",
}
"""Per file, a write that changes nothing: it takes that file's write lock and no other (SQLite's
``BEGIN IMMEDIATE`` takes the lock of every attached file)."""


def resolve_url(url: str | None) -> str:
    """The database URL to use: explicit, else ``$XINYONG_DATABASE_URL``, else ``./xinyong.db``.

    A value without a scheme (``ledger.db``, ``/srv/ledger.db``) is the path of a SQLite file.
    """
    given = url or os.environ.get(ENV_VAR) or DEFAULT_URL
    if "://" in given:
        return given
    # rendered by SQLAlchemy, so that "?", "%" or "#" in a file name stay part of the path
    path = str(Path(given).expanduser())
    return URL.create("sqlite", database=path).render_as_string(hide_password=False)


class NoLedger(LookupError):
    """The database named holds no ledger (a missing file, or a database never initialised).

    Commands that only read refuse it, so that a mistyped ``--db`` is not answered from an empty
    ledger created on the spot; the message says where it looked and what to run instead.
    """


def ledger_place(url: str | None) -> str:
    """Where a ledger is, as its messages name it: a SQLite file's path, or a server's URL
    without its password."""
    try:
        resolved = make_url(resolve_url(url))
    except Exception:  # not a URL SQLAlchemy can read: say where it came from, not what it is
        return "named by --db" if url else f"named by ${ENV_VAR}"
    if resolved.get_backend_name() == "sqlite":
        path = resolved.database or ":memory:"
        return path if path == ":memory:" or Path(path).is_absolute() else f"./{path}"
    return resolved.render_as_string(hide_password=True)


def database_error(exc: BaseException) -> str:
    """A database error in one sentence: the driver's first line, without SQLAlchemy's wrapper
    (the statement, its parameters and a link to its documentation)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0].strip() if text else type(exc).__name__
    return first.removeprefix("connection failed: ").rstrip(".")


def _no_ledger(url: str | None) -> NoLedger:
    place = ledger_place(url)
    sqlite = make_url(resolve_url(url)).get_backend_name() == "sqlite"
    where = f"at {place}" if sqlite else f"in the database {place}"
    return NoLedger(f"no ledger {where}: run `xinyong demo` or `xinyong ledger init`, or pass --db")


def _sqlite_ledger_exists(path: str) -> bool:
    """Whether a SQLite file holds a ledger, read without creating or changing anything (the
    engine would create the file, and its inquiry log beside it, on first connect)."""
    file = Path(path)
    if not file.is_file():
        return False
    try:
        with contextlib.closing(
            sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            return False
        raise  # unreadable, locked...: said as such, not as a missing ledger
    return found is not None


def open_database(
    url: str | None = None,
    *,
    migrate: bool = True,
    pool_size: int | None = None,
    create: bool = True,
) -> Engine:
    """Create an engine for the ledger and bring its schema to the newest revision.

    ``pool_size`` keeps that many connections open (a server sizes it to its worker threads, so
    that a busy moment does not open and close overflow connections on every request). With
    ``create=False`` a database that holds no ledger yet raises :class:`NoLedger` and is left as
    it was (no SQLite file is created).
    """
    resolved = make_url(resolve_url(url))
    if not create and resolved.get_backend_name() == "sqlite":
        path = resolved.database
        if path and path != ":memory:" and not _sqlite_ledger_exists(path):
            raise _no_ledger(url)
    pool: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size}
    if resolved.get_backend_name() == "sqlite":
        engine = _sqlite_engine(resolved.render_as_string(hide_password=False), pool)
    else:
        # No server-side prepared statements: after five runs psycopg would prepare the
        # lookups of ingest (``subject_id IN (...)``) and PostgreSQL would switch them to a
        # generic plan that scans the table instead of using the index.
        connect_args = {"prepare_threshold": None} if "psycopg" in resolved.drivername else {}
        engine = create_engine(
            resolved,
            pool_pre_ping=True,
            connect_args=connect_args,
            hide_parameters=True,  # an error's text may be logged: it must not carry values
            **pool,
        )
        _install_pg_lock(engine)
    if not create and _revision(engine) is None:
        engine.dispose()
        raise _no_ledger(url)
    if migrate:
        upgrade(engine)
    if engine.dialect.name == "sqlite":
        _check_inquiry_file(engine)
    return engine


class ForeignInquiryLog(RuntimeError):
    """The inquiry log file beside a SQLite ledger belongs to another ledger."""


def _check_inquiry_file(engine: Engine) -> None:
    """Refuse a ledger whose attached inquiry log was written for another ledger (a file copied
    or left behind): its subjects would be shown someone else's checks."""
    with engine.connect() as conn:
        names = {row[1] for row in conn.exec_driver_sql("PRAGMA database_list")}
        tables = {
            (schema, str(row[0]))
            for schema in names & {"main", INQUIRY_SCHEMA}
            for row in conn.exec_driver_sql(
                f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'"
            )
        }
        if ("main", "ledger_identity") not in tables or (INQUIRY_SCHEMA, "log_owner") not in tables:
            conn.rollback()
            return  # not migrated yet, or no separate file
        ledger = conn.exec_driver_sql("SELECT ledger_id FROM main.ledger_identity").scalar()
        owner = conn.exec_driver_sql(f"SELECT ledger_id FROM {INQUIRY_SCHEMA}.log_owner").scalar()
        conn.rollback()
    if ledger != owner:
        path = inquiry_log_path(engine.url.database)
        raise ForeignInquiryLog(
            f"{path} is the inquiry log of another ledger (ledger id {owner}, this ledger "
            f"{ledger}); move it away or restore this ledger's own"
        )


def inquiry_log_path(database: str | None) -> Path | None:
    """The inquiry log's file beside a SQLite ledger file (None for an in-memory ledger).

    ``ledger.db`` keeps its inquiry log in ``ledger-inquiries.db``. Every check writes one row
    there, while the ledger file is written only by appends: in one file, each of those commits
    would empty every reader's page cache (a check's read took five times as long) and a check's
    log entry would wait for the ledger's write lock whenever records are being appended. Each
    connection attaches the file as :data:`INQUIRY_SCHEMA`; queries name ``inquiries`` as usual.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return path.with_name(f"{path.stem}-inquiries{path.suffix}")


CHECK_CONNECTION: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}
"""psycopg's keyword arguments for the connections that serve checks from the event loop
(stored standings, the inquiry log): one statement per batch, committed when it returns, and
prepared on first use. Each such connection then runs :data:`PLAN_ONCE`."""

PLAN_ONCE = "SET plan_cache_mode = force_generic_plan"
"""Run on each connection that serves checks: its prepared statements are planned once. With
PostgreSQL's default plan cache mode the stored standings' read was planned again at every
execution (its JSON parameter never lets the generic plan look cheaper), which cost more of the
server's time than the execution; its statement is written so that the plan made without the
parameters' values uses the same indexes (see decisions/precomputed.py). A ``SET``, not an
``options`` connection parameter: that would replace the options of the deployment's own URL
(a ``search_path``, say)."""


def libpq_url(engine: Engine) -> str | None:
    """The connection string for a psycopg connection of its own to the engine's PostgreSQL
    database (None for another database or driver)."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return None
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def inquiry_log_file(engine: Engine) -> Path | None:
    """The file of the ledger's inquiry log, if it has one of its own (a SQLite ledger file);
    None for a database server, where the log is a table like any other."""
    if engine.dialect.name != "sqlite":
        return None
    return inquiry_log_path(engine.url.database)


def _pin_snapshots(driver: Any) -> None:
    """Fix the snapshot of the inquiry log's file, then the ledger's (see :func:`one_snapshot`);
    a file not migrated yet has nothing to pin."""
    for schema in (INQUIRY_SCHEMA, "main"):
        try:
            driver.execute(f"SELECT count(*) FROM {schema}.sqlite_master").fetchall()
        except sqlite3.OperationalError:  # pragma: no cover - a file that cannot be read
            return


def _sqlite_engine(url: str, pool: dict[str, Any]) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60}, hide_parameters=True, **pool)
    attached = inquiry_log_path(make_url(url).database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level; BEGIN is emitted below so we choose its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if attached is not None:
            cursor.execute(f"ATTACH DATABASE ? AS {INQUIRY_SCHEMA}", (str(attached),))
            cursor.execute(f"PRAGMA {INQUIRY_SCHEMA}.journal_mode=WAL")
            cursor.execute(f"PRAGMA {INQUIRY_SCHEMA}.synchronous=NORMAL")
            # Its log starts over after each checkpoint; keep the file from staying large.
            cursor.execute(f"PRAGMA {INQUIRY_SCHEMA}.journal_size_limit={64 << 20}")
        cursor.execute("PRAGMA main.journal_mode=WAL")
        cursor.execute("PRAGMA main.synchronous=NORMAL")
        # The same for the ledger's log, which a load lets grow (:func:`appending`).
        cursor.execute(f"PRAGMA main.journal_size_limit={64 << 20}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: bulk appends touch 3 indexes
        # No memory map (mmap_size stays 0). It saves a system call per page read, but SQLite
        # unmaps a file's whole mapping whenever another connection has committed to it, and a
        # service reading a ledger that a worker appends to then spent 2 to 35 ms in munmap on
        # every batch (bench/check.py, docs/benchmarks.md).
        cursor.close()

    # SQLite has one writer per file, and a writer that finds the file locked sleeps in SQLite's
    # busy handler (1, 2, 5, 10, ... ms) before it tries again. Writers of this process queue on a
    # Python lock instead, which wakes the next one the moment the previous returns its
    # connection: a check's inquiry log entry then waits for a batch of records to commit, not for
    # the next round of the busy handler. (Other processes still meet the busy handler.)
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        begin = options.get("xinyong_begin", "BEGIN")
        if begin != "BEGIN" and not conn.info.get(_HOLDS_WRITER):
            writer.acquire()
            conn.info[_HOLDS_WRITER] = writer
        driver = conn.connection.driver_connection
        assert driver is not None
        if begin == "BEGIN IMMEDIATE" and attached is not None:
            # The ledger file's lock only: the event loop keeps logging checks meanwhile.
            driver.execute("BEGIN")
            try:
                driver.execute(_TAKE_LOCK["main"])
            except sqlite3.OperationalError as exc:
                driver.execute("ROLLBACK")
                if "no such table" not in str(exc):
                    raise
                driver.execute(begin)  # not migrated yet
            return
        driver.execute(begin)
        if attached is not None and options.get("xinyong_snapshot"):
            _pin_snapshots(driver)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        held = record.info.pop(_HOLDS_WRITER, None)
        if held is not None:
            held.release()
        nowait, bulk = record.info.pop(_NOWAIT, False), record.info.pop(_BULK, False)
        if dbapi_connection is None:  # invalidated (closed) on an error: nothing to set back
            return
        if nowait:
            dbapi_connection.execute("PRAGMA busy_timeout=60000")
        if bulk:
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")

    return engine


ANALYZE_AFTER_ROWS = 10_000
"""Rows appended in one load from which PostgreSQL's statistics are refreshed at once."""


def after_bulk_load(engine: Engine, rows: int, stop: AnalyseStop | None = None) -> None:
    """Refresh PostgreSQL's planner statistics of the ledger's tables after a load of ``rows``.

    Until autovacuum's next analyze (which waits for a share of the table to change, and whose
    counter a cancelled ANALYZE resets), a database filled by one large load has no statistics
    for the new rows: the planner then guessed that an ``IN`` list of a hundred subject ids
    matched half of ``subjects`` and read the whole table, for every batch submitted through the
    API (docs/benchmarks.md). ANALYZE samples a fixed number of rows, so it takes about as long
    for a billion rows as for a million. SQLite plans these lookups by its indexes. ``stop``:
    how another thread cancels it.
    """
    if engine.dialect.name != "postgresql" or rows < ANALYZE_AFTER_ROWS:
        return
    analyse(engine, stop)


def analyse(engine: Engine, stop: AnalyseStop | None = None) -> None:
    """Refresh PostgreSQL's planner statistics of the ledger's tables (:func:`after_bulk_load`
    says when and why); ``stop``: how another thread cancels it."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if stop is not None:
                stop.started(conn.connection.driver_connection)
            conn.exec_driver_sql("ANALYZE records, subjects, events")
    except _Stopped:
        pass
    except SQLAlchemyError:  # the load is committed; autovacuum will analyse in time
        if stop is None or not stop.stopped:
            log.warning("could not refresh the planner's statistics after a load", exc_info=True)


_UNANALYSED = """
SELECT coalesce(bool_or(s.n_mod_since_analyze >= greatest(%(rows)s, c.reltuples)), false)
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.relid IN ('records'::regclass, 'subjects'::regclass, 'events'::regclass)
"""


def ledger_unanalysed(engine: Engine) -> bool:
    """Whether one of the ledger's tables on PostgreSQL has had at least as many rows written
    since it was last analysed as it held then (and at least :data:`ANALYZE_AFTER_ROWS`): its
    planner statistics no longer describe it."""
    with engine.connect() as conn:
        stale = conn.exec_driver_sql(_UNANALYSED, {"rows": ANALYZE_AFTER_ROWS}).scalar()
    return bool(stale)


STALE_CHECK_SECONDS = 60.0
"""How often :func:`refresh_if_stale` looks at the statistics, per engine."""

_STALE_CHECKED: WeakKeyDictionary[Engine, float] = WeakKeyDictionary()


def refresh_if_stale(engine: Engine) -> None:
    """Refresh PostgreSQL's planner statistics of the ledger's tables if they are stale
    (:func:`ledger_unanalysed`), looking at most once every :data:`STALE_CHECK_SECONDS` per
    engine. For writers that append a little at a time, as the API's submissions do, which no
    load's :class:`LoadStatistics` covers: on a server without autovacuum, after a load that
    was interrupted before its own refresh, their lookups were otherwise planned without
    statistics until the next load."""
    if engine.dialect.name != "postgresql":
        return
    now = time.monotonic()
    last = _STALE_CHECKED.get(engine)
    if last is not None and now - last < STALE_CHECK_SECONDS:
        return
    _STALE_CHECKED[engine] = now
    try:
        stale = ledger_unanalysed(engine)
    except SQLAlchemyError:  # never the reason a submission fails: the append reports its own
        log.warning("could not read the ledger's planner statistics", exc_info=True)
        return
    if stale:
        analyse(engine)


class _Stopped(Exception):
    """The refresh was stopped before its statement was sent."""


class AnalyseStop:
    """Stops a refresh that another thread runs: the load it is beside has failed or was
    interrupted, and must not wait for an ``ANALYZE`` (which can itself wait for a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self.stopped = False

    def started(self, connection: Any) -> None:
        """Called by the refresh on its connection, before its statement."""
        with self._lock:
            if self.stopped:
                raise _Stopped
            self._connection = connection

    def stop(self) -> None:
        """Cancel the statement running (the refresh then ends with an error it does not log),
        or keep it from starting."""
        with self._lock:
            self.stopped = True
            if self._connection is not None:
                self._connection.cancel_safe()


class LoadStatistics:
    """Keeps PostgreSQL's planner statistics in step with a long load, batch by batch.

    A server may run without autovacuum (this machine's does), and autovacuum's own analyze
    comes late in a load anyway: ingest's lookups (``subject_id IN (...)`` for the peer
    admission rules) were then planned from statistics taken when ``records`` was empty, as
    scans of the whole table, so a load slowed down with every batch (1.7k records/s at a
    million records, docs/benchmarks.md). The statistics are refreshed whenever this load has
    doubled what it had appended at the last refresh (and at least :data:`ANALYZE_AFTER_ROWS`
    rows since), so that a load of N rows analyses about log2(N / 10,000) times; but only when
    a batch has just looked something up that they plan. A load into an empty ledger that no
    one else writes to looks nothing up, so its statistics are refreshed once, at its end (the
    refreshes during it were a tenth of the server's work, docs/benchmarks.md). Before a batch
    looks anything up, :meth:`before_lookups` refreshes them at once where they are stale for
    it (such a load when another writer comes, or a load run again after an interruption).

    Each refresh during the load runs in a thread on a connection of its own, while the load
    goes on: ``ANALYZE`` reads a sample and writes only the catalog, and takes a lock that
    inserts do not wait for, so the load need not wait for it either (it did, for about a tenth
    of a PostgreSQL ingest's time). One runs at a time; a refresh that falls due while another
    runs starts at the first batch after it ends. :meth:`finish` waits for it, then refreshes
    once more for the rows since, so that the statistics cover the whole load when it returns;
    :meth:`close` (also on leaving a ``with`` block) waits for it without refreshing, and is
    where an error of the thread is raised; leaving the block with an error (a failed batch,
    Ctrl-C) first cancels the refresh, which may be waiting for a lock. Nothing is started on
    SQLite, which plans these lookups by its indexes.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.appended = 0
        self.analysed = 0
        self._pool: ThreadPoolExecutor | None = None
        self._running: Future[None] | None = None
        self._stop = AnalyseStop()
        self._ledger_checked = False

    def __enter__(self) -> LoadStatistics:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc_info: object) -> None:
        if kind is not None:
            self._stop.stop()
        self.close()

    def add(self, rows: int, *, planned: bool = True) -> None:
        """Count ``rows`` appended (committed); start a refresh of the statistics when one is
        due, none is running and the batch ``planned`` lookups from them (a refresh that only
        falls due waits for the first batch that does, or for :meth:`finish`)."""
        self.appended += rows
        if self.engine.dialect.name != "postgresql" or not planned or not self._due():
            return
        if self._running is not None:
            if not self._running.done():
                return
            self._running.result()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyse")
        self._running = self._pool.submit(
            after_bulk_load, self.engine, self.appended - self.analysed, self._stop
        )
        self.analysed = self.appended

    def _due(self) -> bool:
        """Whether this load has appended enough since its last refresh for another."""
        return self.appended - self.analysed >= max(ANALYZE_AFTER_ROWS, self.analysed)

    def before_lookups(self) -> None:
        """Called before a batch looks anything up in the ledger: refresh the statistics first,
        in this thread, where they are stale for the lookups. They are when this load has
        appended enough since its last refresh to be due one (a load that looked nothing up
        until another writer came), or, the first time in a load, when the ledger's tables have
        changed as much as they held since they were last analysed (a load interrupted before
        its end refreshed nothing: run again, it finds its rows and appends none, so it would
        never fall due, and its lookups were planned as scans of a whole source)."""
        if self.engine.dialect.name != "postgresql":
            return
        checked, self._ledger_checked = self._ledger_checked, True
        if self._due():  # a refresh for this load's rows since the last, as add starts them
            self.wait()
            after_bulk_load(self.engine, self.appended - self.analysed, self._stop)
        elif not checked and ledger_unanalysed(self.engine):
            self.wait()
            analyse(self.engine, self._stop)
        else:
            return
        self.analysed = self.appended

    def wait(self) -> None:
        """Wait until the refresh running (if any) has ended; raise its error."""
        running, self._running = self._running, None
        if running is not None:
            running.result()

    def finish(self) -> None:
        """Wait for the refresh running, then refresh the statistics once more if enough rows
        came since the last."""
        self.close()
        after_bulk_load(self.engine, self.appended - self.analysed)
        self.analysed = self.appended

    def close(self) -> None:
        """Wait for the refresh running (if any) and stop the thread."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def take_write_lock(conn: Connection, schema: str = INQUIRY_SCHEMA) -> None:
    """Take the write lock of one file of a SQLite ledger now, in the open transaction.

    For a transaction that must read a file and then write it: SQLite cannot turn a read
    snapshot into a write if another connection wrote in between ("database is locked" at once,
    no waiting helps), so such a transaction takes the lock before its first read of the file.
    Writing a file without reading it first needs no call. A no-op where the file is not
    separate (PostgreSQL, an in-memory ledger): the transaction's lock covers it.
    """
    if conn.dialect.name != "sqlite":
        return
    if schema != "main" and inquiry_log_path(conn.engine.url.database) is None:
        return
    conn.exec_driver_sql(_TAKE_LOCK[schema])


def hold_lock(conn: Connection, name: str) -> None:
    """Serialise the open transaction with every other that holds the lock ``name``, until it
    ends; for a transaction that reads rows, decides, then writes (two of them interleaved
    would both decide on what they read before the other's write). Call it before the first
    read. PostgreSQL: a transaction-scoped advisory lock; SQLite: the ledger file's write lock,
    which a single writer holds anyway."""
    if conn.dialect.name == "sqlite":
        take_write_lock(conn, "main")
        return
    key = zlib.crc32(f"xinyong:{name}".encode()) - (1 << 31)  # a signed 32-bit key
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_NAMED_LOCKS}, {key})")


def hold_append_lock(conn: Connection) -> None:
    """Take the lock that :data:`WRITE_LOCK` takes at BEGIN, in an open transaction, for one
    that may append (a no-op when it holds it already). Take it before any named lock
    (:func:`hold_lock`), as a ``WRITE_LOCK`` transaction does, so that no two transactions wait
    for each other's."""
    if conn.dialect.name == "sqlite":
        take_write_lock(conn, "main")
    elif not conn.get_execution_options().get("xinyong_append"):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_APPEND_LOCK})")


def one_snapshot(conn: Connection) -> Connection:
    """Make the next transaction of ``conn`` read one moment of the database throughout, for a
    reader whose reads must agree with each other while writers go on (a report, a
    verification): REPEATABLE READ on PostgreSQL. A SQLite read transaction fixes each file's
    snapshot when it first reads that file; with an inquiry log file of its own, the
    transaction reads the log's file and then the ledger's as it begins, so that a notice being
    moved from beside the log to the ledger (copied, then deleted) is in one snapshot or the
    other. Call before ``begin``."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
    else:
        conn.execution_options(xinyong_snapshot=True)
    return conn


def hold_operations_lock(conn: Connection) -> None:
    """Serialise appends to the operations log (:mod:`xinyong.ledger.operations`) until the
    transaction ends: an advisory lock of its own on PostgreSQL (no named lock can share its
    key), the ledger file's write lock on SQLite."""
    if conn.dialect.name == "sqlite":
        take_write_lock(conn, "main")
    else:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_OPERATIONS_LOCK})")


def hold_inquiry_lock(conn: Connection) -> None:
    """Serialise appends to the inquiry log's tree (:mod:`xinyong.ledger.inquiry_tree`) until
    the transaction ends: an advisory lock of its own on PostgreSQL, the inquiry log file's
    write lock on SQLite (the ledger file's when the log has no file of its own). Run on the
    DB-API cursor, so that it joins a transaction begun on the driver (the inquiry log's)."""
    if conn.dialect.name == "sqlite":
        separate = inquiry_log_path(conn.engine.url.database) is not None
        sql = _TAKE_LOCK[INQUIRY_SCHEMA if separate else "main"]
    else:
        sql = INQUIRY_LOCK_SQL
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


INQUIRY_LOCK_SQL = f"SELECT pg_advisory_xact_lock({_PG_INQUIRY_LOCK})"
""":func:`hold_inquiry_lock` on PostgreSQL, for a connection outside SQLAlchemy."""


def never_wait(conn: Connection) -> None:
    """Make a SQLite connection fail a write at once ("database is locked") when another
    connection holds that file's write lock, instead of sleeping in SQLite's busy handler; for a
    connection the caller keeps (the inquiry log on the event loop, which tries again later).
    The usual timeout is restored when the connection goes back to the pool."""
    conn.info[_NOWAIT] = True
    conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]


@contextlib.contextmanager
def appending(engine: Engine, *, bulk: bool = False) -> Iterator[Connection]:
    """A transaction that may append to the ledger (:data:`WRITE_LOCK`), on a connection of its
    own; ``bulk``: it writes one batch of a load (:func:`_bulk_commits`)."""
    with engine.connect().execution_options(**WRITE_LOCK) as conn:
        if bulk:
            _bulk_commits(conn)
        with conn.begin():
            yield conn


def _bulk_commits(conn: Connection) -> None:
    """Make the commits of a SQLite connection, until it goes back to the pool, fold the
    ledger's log into its file (a checkpoint) only once the log holds
    :data:`BULK_CHECKPOINT_PAGES` pages, not 1,000: for the batches of a load, each of which
    writes far more than 1,000 pages. Folding after every batch wrote the index pages that
    every batch touches to the file again each time (docs/benchmarks.md, "Ingest"). This
    changes no commit's durability, only when the log is copied; :func:`fold_log` folds what a
    load leaves once it ends."""
    if conn.dialect.name != "sqlite":
        return
    conn.info[_BULK] = True
    driver = conn.connection.driver_connection
    driver.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")  # type: ignore[union-attr]


def fold_log(engine: Engine) -> None:
    """Fold a SQLite ledger's log into its file, as far as no reader still needs it (a
    passive checkpoint: it waits for no one), after a load (:func:`appending`)."""
    if engine.dialect.name != "sqlite":
        return
    pooled = engine.raw_connection()  # no BEGIN: a checkpoint runs outside transactions
    try:
        pooled.driver_connection.execute("PRAGMA main.wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
    finally:
        pooled.close()


def _install_pg_lock(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("xinyong_append"):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_APPEND_LOCK})")


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _revision(engine: Engine) -> str | None:
    """The schema revision of the ledger's database; None where no ledger was ever created.
    Read from Alembic's table as Alembic reads it, without importing Alembic (0.15 s of the
    start of a command, or of an ingest's preparing process, that opens a ledger as it is)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(_VERSION_TABLE):
            return None
        found = [str(row[0]) for row in conn.exec_driver_sql(_READ_VERSION)]
        conn.rollback()
    if len(found) > 1:
        raise RuntimeError(f"the ledger's {_VERSION_TABLE} table holds several revisions: {found}")
    return found[0] if found else None


_VERSION_TABLE = "alembic_version"
_READ_VERSION = f"SELECT version_num FROM {_VERSION_TABLE}"


def upgrade(engine: Engine) -> None:
    """Apply pending migrations (a no-op, and cheap, when the schema is current)."""
    # Alembic is imported where it is used: a command that opens no ledger needs none of it.
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    if _revision(engine) == head:
        return
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
