"""An ingest with a preparing process: what it does when that process fails or dies, and how
it chooses to use one. (That it stores and tells what an ingest in one process does is tested
beside the rules, in ``test_records.py`` and the peer admission tests.)"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ingest import apart as apart_module
from xinyong.ingest.apart import APART_FROM_ROWS, PreparerDied, _Packed, apart_by_default
from xinyong.ingest.files import ingest_records
from xinyong.ingest.readers import FileError
from xinyong.ledger.append import Batch, hash_batch
from xinyong.ledger.database import open_database
from xinyong.ledger.merkle import Frontier
from xinyong.ledger.verify import verify_ledger

PERSON = synthetic_resident_id(1, date(1980, 1, 2), 11)


def _csv(path: Path, rows: int, *, header: str = "") -> Path:
    lines = [header or "record_id,subject_id,subject_kind,code,occurred_at,source,attrs"]
    lines += [
        f'R{i},{PERSON},person,utility.late_fee,2024-01-02,city,"{{""amount"": {i}}}"'
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _children() -> set[int]:
    """This process's child processes."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def test_an_error_in_the_preparing_process_is_raised_as_in_one_process(tmp_path: Path) -> None:
    path = _csv(tmp_path / "records.csv", 3, header="record_id,subject_id,subject_kind,source")
    errors = []
    for apart in (False, True):
        engine = open_database(f"sqlite:///{tmp_path / f'{apart}.db'}")
        with pytest.raises(FileError) as raised:
            ingest_records(engine, path, load_catalog(), apart=apart)
        engine.dispose()
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "code" in errors[0]


def test_a_preparing_process_killed_midway_stops_the_ingest_and_loses_nothing_committed(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path / "records.csv", 3_000)
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    before = _children()
    batches = 0

    def kill_the_preparer(_done: int, _total: int | None) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            (preparer,) = _children() - before
            os.kill(preparer, signal.SIGKILL)

    with pytest.raises(PreparerDied, match="running the same command again completes it"):
        ingest_records(
            engine, path, load_catalog(), batch_size=500, progress=kill_the_preparer, apart=True
        )
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM records")).scalar_one()
        assert verify_ledger(conn).ok
    assert 1_000 <= kept < 3_000  # the batches committed before it died
    assert not _children() - before
    again = ingest_records(engine, path, load_catalog(), batch_size=500, apart=True)
    assert (again.accepted, again.duplicates, again.rejected) == (3_000 - kept, kept, 0)
    engine.dispose()


def test_an_ingest_prepares_apart_a_large_file_into_a_sqlite_file_with_two_cpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = _csv(tmp_path / "small.csv", 10)
    large = tmp_path / "large.csv"
    with large.open("wb") as handle:  # as large as 200,000 rows, without writing them
        handle.truncate(APART_FROM_ROWS * 200)
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1})
    on_file = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    in_memory = open_database("sqlite://")
    assert apart_by_default(on_file, large)
    assert not apart_by_default(on_file, small)
    assert not apart_by_default(in_memory, large)
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0})
    assert not apart_by_default(on_file, large)
    on_file.dispose()
    in_memory.dispose()


def test_a_preparing_process_that_loaded_other_code_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("xinyong.ingest.apart.__file__", "/elsewhere/apart.py")
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    path = _csv(tmp_path / "records.csv", 3)
    with pytest.raises(PreparerDied, match="nothing was written"):
        ingest_records(engine, path, load_catalog(), apart=True)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM records")).scalar_one() == 0
    engine.dispose()


@pytest.mark.parametrize("sqlite", [True, False], ids=["dates-as-text", "date-objects"])
def test_a_hashed_batch_arrives_as_it_was_sent(sqlite: bool) -> None:
    row = ("court", "R1", PERSON, "person", "court.defaulter", date(2024, 1, 2), None, "{}", None)
    batch = Batch(
        subjects=[(PERSON, "person", None, "{}")], records=[row, (*row[:1], "R2", *row[2:])]
    )
    hashed = hash_batch(batch, Frontier(), "2026-12-06T08:00:00.000000Z", sqlite=sqlite)
    sent = _Packed.of(hashed)
    assert isinstance(sent, _Packed) is sqlite  # marshal cannot write a date object
    assert _Packed.unpacked(pickle.loads(pickle.dumps(sent))) == hashed


def test_an_in_memory_ledger_is_not_prepared_apart(tmp_path: Path) -> None:
    engine = open_database("sqlite://")
    with pytest.raises(ValueError, match="a ledger that process can open"):
        ingest_records(engine, _csv(tmp_path / "records.csv", 3), load_catalog(), apart=True)
    engine.dispose()


def test_a_long_import_path_reaches_the_preparing_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sys.path goes over the channel: one command-line argument holds at most 128 KiB."""
    long = [str(tmp_path / f"entry-{n:04d}-{'x' * 80}") for n in range(2_000)]
    monkeypatch.setattr("sys.path", [*sys.path, *long, tmp_path])  # a Path too
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    report = ingest_records(engine, _csv(tmp_path / "records.csv", 3), load_catalog(), apart=True)
    assert report.accepted == 3
    engine.dispose()


def test_a_preparing_process_that_never_greets_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("xinyong.ingest.apart._GREETING_SECONDS", 0)  # as if it never spoke
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    with pytest.raises(PreparerDied):
        ingest_records(engine, _csv(tmp_path / "records.csv", 3), load_catalog(), apart=True)
    engine.dispose()


@pytest.mark.parametrize("slow", [False, True])
def test_an_error_midway_keeps_what_was_written_before_it_as_in_one_process(
    tmp_path: Path, slow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row group that cannot be read stops the ingest; the batches before it stay, however
    many were waiting to be committed together (``slow``: the writer lags, so they all were)."""
    rows = [
        {
            "record_id": f"R{i}",
            "subject_id": PERSON,
            "subject_kind": "person",
            "code": "utility.late_fee",
            "occurred_at": "2024-01-02",
            "source": "city",
        }
        for i in range(30_000)
    ]
    path = tmp_path / "records.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=5_000, compression="none")
    broken = pq.ParquetFile(path).metadata.row_group(4).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[broken : broken + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    if slow:
        written = apart_module.append_hashed

        def lagging(*args: Any) -> Any:
            time.sleep(0.3)
            return written(*args)

        monkeypatch.setattr(apart_module, "append_hashed", lagging)
    kept = []
    for apart in (False, True):
        engine = open_database(f"sqlite:///{tmp_path / f'{apart}.db'}")
        with pytest.raises(OSError, match="deserialize"):  # pyarrow's, in either process
            ingest_records(engine, path, load_catalog(), batch_size=5_000, apart=apart)
        with engine.connect() as conn:
            kept.append(conn.exec_driver_sql("SELECT count(*) FROM records").scalar_one())
            assert verify_ledger(conn).ok
        engine.dispose()
    assert kept[1] == kept[0] == 20_000
