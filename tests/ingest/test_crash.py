"""kill -9 a real ``xinyong ingest`` at several points: the ledger verifies, holds whole batches
only, and running the same command again completes the job with no duplicates."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from xinyong.domain.identifiers import synthetic_resident_id

pytestmark = pytest.mark.slow

ROWS = 40_000
BATCH = 2_000
BAD_EVERY = 97  # every 97th row has a bad date
COLUMNS = [
    "record_id",
    "subject_id",
    "subject_kind",
    "code",
    "occurred_at",
    "source",
    "case_id",
    "attrs",
    "evidence",
]


def _make_input(path: Path) -> int:
    people = [
        synthetic_resident_id(3, date(1970, 1, 1) + timedelta(days=i), 1 + i % 900)
        for i in range(2_000)
    ]
    good = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(ROWS):
            day = (
                "2024-02-30"
                if i % BAD_EVERY == 0
                else (date(2020, 1, 1) + timedelta(days=i % 1500)).isoformat()
            )
            good += i % BAD_EVERY != 0
            writer.writerow(
                [
                    f"R{i}",
                    people[i % len(people)],
                    "person",
                    "utility.late_fee",
                    day,
                    "city",
                    "",
                    f'{{"amount": {i % 500}}}',
                    "",
                ]
            )
    return good


def _size(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.exec_driver_sql("SELECT max(size) FROM checkpoints").scalar()
    except sa.exc.OperationalError:
        value = 0
    finally:
        engine.dispose()
    return int(value or 0)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "xinyong", *args]


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return found


def _gone(pids: set[int], seconds: float = 20) -> None:
    """Wait until none of ``pids`` runs: a preparing process must not outlive its writer."""
    deadline = time.monotonic() + seconds
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        states = [
            Path(f"/proc/{pid}/stat").read_text().split()[2]
            for pid in pids
            if Path(f"/proc/{pid}").exists()
        ]
        if set(states) <= {"Z"}:  # ended, waiting to be reaped by init
            return
        assert time.monotonic() < deadline, f"processes {pids} outlived the killed ingest"
        time.sleep(0.05)


def test_a_killed_preparing_process_stops_the_ingest_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "records.csv"
    good = _make_input(data)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = {**os.environ, "XINYONG_DATABASE_URL": url}
    command = _cli("ingest", str(data), "--batch-size", str(BATCH), "--apart")
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and _size(url) < 6_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    (preparer,) = _children(proc.pid)
    os.kill(preparer, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "ended unexpectedly" in stderr, stderr
    assert "Traceback" not in stderr, stderr
    verified = subprocess.run(
        _cli("ledger", "verify"), env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert 0 < _records(url)[0] < good
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 1, finished.stderr  # the bad rows are still rejected
    assert _records(url) == (good, good)


def _records(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM records").scalar()
        distinct = conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT DISTINCT source, record_id FROM records) k"
        ).scalar()
    engine.dispose()
    return int(total or 0), int(distinct or 0)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_kill_minus_nine_then_rerun(tmp_path: Path, fmt: str) -> None:
    """Parquet files are validated a batch at a time in columns; CSV files row by row."""
    data = tmp_path / "records.csv"
    good = _make_input(data)
    if fmt == "parquet":  # the same rows, every column text (the bad dates stay bad)
        text = pa_csv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string()))
        table = pa_csv.read_csv(data, convert_options=text)
        data = tmp_path / "records.parquet"
        pq.write_table(table, data)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = {**os.environ, "XINYONG_DATABASE_URL": url}
    command = _cli("ingest", str(data), "--batch-size", str(BATCH), "--apart")
    sizes = []
    for threshold in (1, 6_000, 15_000, 26_000):
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and _size(url) < threshold and time.monotonic() < deadline:
            time.sleep(0.01)
        preparers = _children(proc.pid)  # the process preparing the batches
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _gone(preparers)
        verified = subprocess.run(
            _cli("ledger", "verify"), env=env, capture_output=True, text=True, check=False
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        total, distinct = _records(url)
        assert total == distinct  # no duplicates, ever
        sizes.append(total)
        assert not list(tmp_path.glob(f".records.{fmt}.rejects.csv.*")), "half-written rejects"
    assert sizes == sorted(sizes)
    assert sizes[-1] < good, "the last kill should land before the end; raise the thresholds"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 1, finished.stderr  # the bad rows are still rejected
    assert _records(url) == (good, good)
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert _records(url) == (good, good)
    assert "0 records added" in again.stdout
    verified = subprocess.run(
        _cli("ledger", "verify"), env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stdout
