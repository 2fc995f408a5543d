"""Planner statistics during a load: refreshed beside it, one at a time, never lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.postgres import reset_pg
from xinyong.ledger import database
from xinyong.ledger.database import AnalyseStop, LoadStatistics, open_database


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], threading.Event]:
    """Refreshes that record the rows they are for and wait for the returned event."""
    calls: list[int] = []
    go = threading.Event()

    def refresh(_engine: sa.Engine, rows: int, _stop: AnalyseStop | None = None) -> None:
        calls.append(rows)
        assert go.wait(10)

    monkeypatch.setattr(database, "ANALYZE_AFTER_ROWS", 10)
    monkeypatch.setattr(database, "after_bulk_load", refresh)
    return calls, go


def _postgres() -> sa.Engine:
    """A PostgreSQL engine that never connects: the refreshes, which would, are replaced."""
    return sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_a_refresh_due_while_one_runs_starts_when_it_has_ended(
    refreshes: tuple[list[int], threading.Event],
) -> None:
    calls, go = refreshes
    with LoadStatistics(_postgres()) as statistics:
        statistics.add(10)  # due: starts, and waits for `go`
        statistics.add(15)  # due again (25 rows since the last), but one runs
        statistics.add(5)
        assert [t.name for t in threading.enumerate()].count("analyse_0") == 1
        go.set()
        statistics.wait()
        assert calls == [10]
        statistics.add(0)  # the next batch starts the refresh that fell due meanwhile
        statistics.finish()
    assert calls == [10, 20, 0]
    assert not [t for t in threading.enumerate() if t.name.startswith("analyse")]


def test_a_refresh_waits_for_a_batch_that_plans_lookups(
    refreshes: tuple[list[int], threading.Event],
) -> None:
    calls, go = refreshes
    go.set()
    with LoadStatistics(_postgres()) as statistics:
        statistics.add(10, planned=False)  # due, but nothing of this batch is planned from it
        statistics.add(30, planned=False)
        statistics.wait()
        assert calls == []
        statistics.add(5)  # the first batch that looks something up starts it, for every row
        statistics.wait()
        assert calls == [45]
        statistics.add(10, planned=False)
        statistics.finish()  # the end refreshes for the rows since, looked up or not
    assert calls == [45, 10]


def test_leaving_the_block_waits_for_the_refresh_and_raises_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(_engine: sa.Engine, _rows: int, _stop: AnalyseStop | None = None) -> None:
        raise RuntimeError("no statistics")

    monkeypatch.setattr(database, "ANALYZE_AFTER_ROWS", 10)
    monkeypatch.setattr(database, "after_bulk_load", failing)
    with pytest.raises(RuntimeError, match="no statistics"), LoadStatistics(_postgres()) as load:
        load.add(10)
    assert not [t for t in threading.enumerate() if t.name.startswith("analyse")]


def test_nothing_runs_beside_a_sqlite_load(
    tmp_path: Path, refreshes: tuple[list[int], threading.Event]
) -> None:
    calls, _ = refreshes
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    with LoadStatistics(engine) as statistics:
        statistics.add(1_000_000)
        assert not [t for t in threading.enumerate() if t.name.startswith("analyse")]
    assert calls == []
    engine.dispose()


@pytest.mark.postgres
def test_a_failed_load_does_not_wait_for_a_refresh_that_waits_for_a_lock(
    pg_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or a failed batch ends the load at once: the refresh beside it is cancelled, even
    while its ANALYZE waits for a lock another session holds."""
    monkeypatch.setattr(database, "ANALYZE_AFTER_ROWS", 10)
    reset_pg(pg_server_url)
    engine = open_database(pg_server_url)
    holder = engine.connect()
    holder.exec_driver_sql("LOCK TABLE events IN SHARE UPDATE EXCLUSIVE MODE")  # as ANALYZE takes
    failed: list[BaseException] = []

    def load() -> None:
        try:
            with LoadStatistics(engine) as statistics:
                statistics.add(10)
                _wait_for_a_waiting_analyse(engine)
                raise KeyboardInterrupt
        except BaseException as exc:
            failed.append(exc)

    loading = threading.Thread(target=load)
    loading.start()
    loading.join(60)
    ended_while_locked = not loading.is_alive()
    holder.rollback()
    holder.close()
    loading.join(60)
    assert ended_while_locked, "the load waited for the ANALYZE"
    assert [type(exc) for exc in failed] == [KeyboardInterrupt]
    engine.dispose()


def _wait_for_a_waiting_analyse(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        for _ in range(600):
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE left(query, 7) = 'ANALYZE' "
                "AND wait_event_type = 'Lock'"
            ).scalar_one()
            if waiting:
                return
            threading.Event().wait(0.05)
            conn.rollback()
    raise AssertionError("the ANALYZE never waited for the lock")


def test_a_batch_about_to_look_up_first_refreshes_what_is_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    checks: list[bool] = [True]  # the ledger's tables are stale at the load's first lookup
    monkeypatch.setattr(database, "ANALYZE_AFTER_ROWS", 10)
    monkeypatch.setattr(database, "analyse", lambda _engine, _stop=None: calls.append("now"))
    monkeypatch.setattr(database, "ledger_unanalysed", lambda _engine: checks.pop())
    monkeypatch.setattr(
        database, "after_bulk_load", lambda _engine, rows, _stop=None: calls.append(rows)
    )
    with LoadStatistics(_postgres()) as statistics:
        statistics.before_lookups()  # the ledger, checked once a load, is stale
        assert calls == ["now"]
        statistics.add(30, planned=False)  # due, but deferred: nothing looked up
        statistics.before_lookups()  # this load's own rows are due: refreshed at once, for them
        assert calls == ["now", 30]
        statistics.before_lookups()  # nothing due, and the ledger is not checked again
        statistics.add(5)
        statistics.finish()
    assert calls == ["now", 30, 5]
    assert checks == []


def test_a_refresh_due_while_one_runs_and_started_before_a_lookup_counts_its_rows(
    refreshes: tuple[list[int], threading.Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row of a load is in exactly one refresh, whether it starts beside the load or at
    once before a batch's lookups (a refresh that fell due while another ran)."""
    calls, go = refreshes
    monkeypatch.setattr(database, "ledger_unanalysed", lambda _engine: False)
    with LoadStatistics(_postgres()) as statistics:
        statistics.add(10)  # due: starts, and waits for `go`
        statistics.add(10)  # due again, but one runs
        go.set()
        statistics.before_lookups()  # still due: waits for the one running, then refreshes
        assert calls == [10, 10]
        statistics.add(10)  # 10 since the last refresh, of 20: not due
        statistics.finish()
    assert calls == [10, 10, 10]
    assert sum(calls) == statistics.appended
