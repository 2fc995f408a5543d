"""The ledger's database connections: the write-ahead log during a load (``appending``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from xinyong.ledger.database import (
    _PG_APPEND_LOCK,
    BULK_CHECKPOINT_PAGES,
    _revision,
    appending,
    fold_log,
    open_database,
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield engine
    engine.dispose()


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _log_frames(path: Path) -> int:
    """Frames in the log that a passive checkpoint has not yet copied (read by another
    connection, as a reader of the file would)."""
    with sqlite3.connect(path) as conn:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames) if busy else int(frames) - int(copied)


def _write_pages(conn: Connection, rows: int) -> None:
    conn.exec_driver_sql(
        "INSERT INTO log_owner_scratch (value) SELECT hex(randomblob(2000)) "
        f"FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
        "SELECT i FROM n)"
    )


def test_a_load_batch_folds_the_log_late_and_the_connection_goes_back_as_it_was(
    ledger: Engine, tmp_path: Path
) -> None:
    with ledger.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE log_owner_scratch (value TEXT)")
    assert _autocheckpoint(ledger) == 1_000  # SQLite's default
    with appending(ledger, bulk=True) as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        assert pages == BULK_CHECKPOINT_PAGES
        _write_pages(conn, 4_000)  # some 2,000 pages: past 1,000, short of the bulk limit
    with ledger.connect() as conn:  # the same pooled connection, set back
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1_000
    with appending(ledger) as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1_000
    with ledger.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM log_owner_scratch")).scalar_one()
    assert count == 4_000


def test_the_end_of_a_load_folds_the_log_into_the_file(ledger: Engine, tmp_path: Path) -> None:
    with ledger.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE log_owner_scratch (value TEXT)")
    with appending(ledger, bulk=True) as conn:
        _write_pages(conn, 4_000)
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as reader:  # the log is not yet in the file
        size = path.stat().st_size
        assert reader.execute("SELECT count(*) FROM log_owner_scratch").fetchone() == (4_000,)
    assert size < 4_000 * 2_000
    fold_log(ledger)
    assert path.stat().st_size > 4_000 * 2_000
    assert _log_frames(path) == 0


@pytest.mark.postgres
def test_on_postgresql_a_load_batch_is_an_append(pg_server_url: str) -> None:
    engine = open_database(pg_server_url)
    try:
        with appending(engine, bulk=True) as conn:  # holding the append lock
            held = conn.exec_driver_sql(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted"
            ).all()
            assert (_PG_APPEND_LOCK,) in [tuple(row) for row in held]
        fold_log(engine)  # nothing to fold
    finally:
        engine.dispose()


def _alembic_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@pytest.mark.parametrize("migrated", [True, False])
def test_the_revision_is_read_as_alembic_reads_it(ledger_url: str, migrated: bool) -> None:
    engine = open_database(ledger_url, migrate=False)
    try:
        if not migrated:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE alembic_version")
        assert _revision(engine) == _alembic_revision(engine)
        assert (_revision(engine) is None) is not migrated
    finally:
        engine.dispose()


def test_a_load_connection_closed_on_an_error_goes_back_to_the_pool(ledger: Engine) -> None:
    """Ctrl-C or a broken connection in a load's batch: the connection is closed and
    discarded, the error raised as it is (nothing left to set back on a closed connection)."""

    def interrupted() -> None:
        with appending(ledger, bulk=True) as conn:
            conn.invalidate()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert ledger.pool.checkedout() == 0  # type: ignore[attr-defined]
    with appending(ledger, bulk=True) as conn:  # the next load's batch takes a new one
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == (
            BULK_CHECKPOINT_PAGES
        )
    assert _autocheckpoint(ledger) == 1_000
