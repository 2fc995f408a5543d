"""A batch hashed ahead of its write (``hash_batch``, then ``append_hashed``, as an ingest's
preparing process does) stores exactly what ``append_batch`` stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from xinyong.ledger import append
from xinyong.ledger.append import Batch, append_batch, append_hashed, hash_batch, read_frontier
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.entries import CONTENT_COLUMNS, entry_hash
from xinyong.ledger.merkle import Frontier
from xinyong.ledger.verify import verify_ledger

NOW = "2026-12-06T08:00:00.000000Z"


def _batch(first: int, size: int) -> Batch:
    batch = Batch()
    for n in range(first, first + size):
        subject = f"P{n:04d}"
        batch.subjects.append((subject, "person", None, "{}"))
        batch.records.append(
            (
                "court",
                f"R{n}",
                subject,
                "person",
                "court.defaulter",
                date(2024, 1, 1 + n % 28),
                f"case-{n}" if n % 2 else None,
                '{"amount":100}',
                None,
            )
        )
    batch.events.append(
        ("correction", "court", f"R{first}", date(2024, 3, 1), "clerk", "typo", "{}")
    )
    return batch


def _tables(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1")]
            for table in ("subjects", "records", "events", "checkpoints")
        }


@pytest.mark.parametrize("chunk", [2, 5_000])
def test_a_batch_hashed_ahead_is_stored_as_appended(
    ledger_url: str, tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(append, "_CHUNK", chunk)  # hashed in several chunks, or in one
    monkeypatch.setattr(append, "utc_now_text", lambda: NOW)
    sqlite = ledger_url.startswith("sqlite")
    other_url = f"sqlite:///{tmp_path / 'hashed-ahead.db'}" if sqlite else None
    reference = open_database(ledger_url)
    sizes = [(0, 3), (3, 1), (4, 6)]
    for first, size in sizes:
        with reference.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_batch(conn, _batch(first, size), "batch")
    expected = _tables(reference)
    if not sqlite:  # one PostgreSQL database: the same ledger again, emptied
        with reference.begin() as conn:
            conn.exec_driver_sql("TRUNCATE subjects, records, events, checkpoints")
        other_url = ledger_url
    reference.dispose()
    assert other_url is not None
    hashed_ahead = open_database(other_url)
    with hashed_ahead.connect() as conn:
        frontier = read_frontier(conn)
    for first, size in sizes:
        hashed = hash_batch(_batch(first, size), frontier, NOW, sqlite=sqlite)
        with hashed_ahead.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_hashed(conn, hashed, "batch")
    assert _tables(hashed_ahead) == expected
    with hashed_ahead.connect() as conn:
        assert verify_ledger(conn).ok
    hashed_ahead.dispose()


def test_the_rows_hashed_ahead_carry_each_entry_s_own_hash() -> None:
    batch = _batch(0, 4)
    hashed = hash_batch(batch, Frontier(), NOW, sqlite=True)
    position = 0
    for table, rows in hashed.tables:
        for row in rows:
            content = row[1:-1]
            assert row[0] == position
            assert row[-1] == entry_hash(table, position, content)
            assert len(content) == len(CONTENT_COLUMNS[table])
            position += 1
    assert hashed.head.size == position == len(batch)
    assert [table for table, _ in hashed.tables] == ["subjects", "records", "events"]
