"""Opening the ledger database: URL resolution, engine settings, migrations.

The default is an embedded SQLite file ``./xinyong.db``; any SQLAlchemy URL works through
``--db URL`` or ``XINYONG_DATABASE_URL`` (PostgreSQL: ``postgresql+psycopg://...``).

SQLite is opened in WAL mode with ``synchronous=NORMAL``: a committed batch survives a killed
process, readers never block the writer, and the ledger's own hashes detect anything worse.
Transactions are begun explicitly so that an append can take the write lock up front
(``BEGIN IMMEDIATE``) before it reads the tree head it extends.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "WRITE",
    "WRITE_LOCK",
    "WriterBusy",
    "open_database",
    "release_writer",
    "resolve_url",
    "upgrade",
]

DEFAULT_URL = "sqlite:///xinyong.db"
ENV_VAR = "XINYONG_DATABASE_URL"
WRITE_LOCK: dict[str, Any] = {"xinyong_begin": "BEGIN IMMEDIATE", "xinyong_append": True}
"""Execution options for a connection that will append to the ledger: take the write lock at
BEGIN (SQLite's single writer; on PostgreSQL an advisory lock serializing appends)."""
WRITE: dict[str, Any] = {"xinyong_begin": "BEGIN IMMEDIATE"}
"""Execution options for a transaction that writes but never appends (the inquiry log): on SQLite
it takes the writer lock at BEGIN, as any writer must; on PostgreSQL it runs beside appends.
With ``"xinyong_nowait": True`` a SQLite writer that cannot have the lock at once gets
:class:`WriterBusy` instead of waiting (see :func:`_begin_now`)."""

MMAP_BYTES = 1 << 36
"""How much of a SQLite ledger is read through a memory map (SQLite caps it at its build limit)."""
_MIGRATIONS = Path(__file__).with_name("migrations")
_HOLDS_WRITER = "xinyong_holds_writer"
_PG_APPEND_LOCK = 0x78696E79  # "xiny": advisory lock key serializing appends on PostgreSQL


def resolve_url(url: str | None) -> str:
    """The database URL to use: explicit, else ``$XINYONG_DATABASE_URL``, else ``./xinyong.db``."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def open_database(
    url: str | None = None, *, migrate: bool = True, pool_size: int | None = None
) -> Engine:
    """Create an engine for the ledger and bring its schema to the newest revision.

    ``pool_size`` keeps that many connections open (a server sizes it to its worker threads, so
    that a busy moment does not open and close overflow connections on every request).
    """
    resolved = make_url(resolve_url(url))
    pool: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size}
    if resolved.get_backend_name() == "sqlite":
        engine = _sqlite_engine(resolved.render_as_string(hide_password=False), pool)
    else:
        # No server-side prepared statements: after five runs psycopg would prepare the
        # lookups of ingest (``subject_id IN (...)``) and PostgreSQL would switch them to a
        # generic plan that scans the table instead of using the index.
        connect_args = {"prepare_threshold": None} if "psycopg" in resolved.drivername else {}
        engine = create_engine(resolved, pool_pre_ping=True, connect_args=connect_args, **pool)
        _install_pg_lock(engine)
    if migrate:
        upgrade(engine)
    return engine


def _sqlite_engine(url: str, pool: dict[str, Any]) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level; BEGIN is emitted below so we choose its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: bulk appends touch 3 indexes
        # Reads through a memory map: a check's point reads land on random pages of a large file,
        # and each page read without it is a system call (about half of a check's read time).
        cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
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
        nowait = bool(options.get("xinyong_nowait"))
        if begin != "BEGIN" and not conn.info.get(_HOLDS_WRITER):
            if not writer.acquire(blocking=not nowait):
                raise WriterBusy("another writer of this process holds the ledger")
            conn.info[_HOLDS_WRITER] = writer
        driver = conn.connection.driver_connection
        if nowait:
            _begin_now(conn, driver, begin)
        else:
            driver.execute(begin)  # type: ignore[union-attr]

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        held = record.info.pop(_HOLDS_WRITER, None)
        if held is not None:
            held.release()

    return engine


class WriterBusy(RuntimeError):
    """The SQLite write lock is taken (raised only under ``"xinyong_nowait": True``)."""


def _begin_now(conn: Connection, driver: Any, begin: str) -> None:
    """BEGIN without waiting: :class:`WriterBusy` if another process holds the write lock.

    A writer on the event loop (the inquiry log) must never sleep in SQLite's busy handler, which
    would stall every request; it tries again a fraction of a millisecond later instead.
    """
    driver.execute("PRAGMA busy_timeout=0")
    try:
        driver.execute(begin)
    except sqlite3.OperationalError as exc:
        release_writer(conn)
        if "locked" in str(exc) or "busy" in str(exc):
            raise WriterBusy("another process holds the ledger's write lock") from exc
        raise
    finally:
        driver.execute("PRAGMA busy_timeout=60000")


def release_writer(conn: Connection) -> None:
    """Let other writers of this process in, after a write transaction on a connection that is
    kept rather than returned to the pool (where it would be released on check-in)."""
    held = conn.info.pop(_HOLDS_WRITER, None)
    if held is not None:
        held.release()


def _install_pg_lock(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("xinyong_append"):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_APPEND_LOCK})")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Apply pending migrations (a no-op, and cheap, when the schema is current)."""
    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    if current == head:
        return
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
