"""Planner statistics during a load: refreshed beside it, one at a time, never lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from xinyong.ledger import database
from xinyong.ledger.database import LoadStatistics, open_database


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], threading.Event]:
    """Refreshes that record the rows they are for and wait for the returned event."""
    calls: list[int] = []
    go = threading.Event()

    def refresh(_engine: sa.Engine, rows: int) -> None:
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


def test_leaving_the_block_waits_for_the_refresh_and_raises_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(_engine: sa.Engine, _rows: int) -> None:
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
