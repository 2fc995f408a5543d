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
    "open_database",
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
it takes the writer lock at BEGIN, as any writer must; on PostgreSQL it runs beside appends."""

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
        cursor.close()

    # SQLite has one writer per file, and a writer that finds the file locked sleeps in SQLite's
    # busy handler (1, 2, 5, 10, ... ms) before it tries again. Writers of this process queue on a
    # Python lock instead, which wakes the next one the moment the previous returns its
    # connection: a check's inquiry log entry then waits for a batch of records to commit, not for
    # the next round of the busy handler. (Other processes still meet the busy handler.)
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        begin = conn.get_execution_options().get("xinyong_begin", "BEGIN")
        if begin != "BEGIN" and not conn.info.get(_HOLDS_WRITER):
            writer.acquire()
            conn.info[_HOLDS_WRITER] = True
        conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_HOLDS_WRITER, False):
            writer.release()

    return engine


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
