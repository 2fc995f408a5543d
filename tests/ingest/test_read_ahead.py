"""Reading ahead: the next batch is made while the current one is appended, and nothing about an
ingest's outcome depends on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ingest import read_ahead as read_ahead_module
from xinyong.ingest.files import ingest_records
from xinyong.ingest.read_ahead import RAMP_FROM, ramp_up, read_ahead
from xinyong.ledger.database import open_database

WAIT = 10.0


def test_items_come_in_order_and_the_next_is_made_meanwhile() -> None:
    made = [threading.Event() for _ in range(4)]

    def items() -> Iterator[int]:
        for n in range(4):
            made[n].set()
            yield n

    seen = []
    for item in read_ahead(items()):
        if item < 3:  # while the caller holds this item, the next one is made
            assert made[item + 1].wait(WAIT)
        seen.append(item)
    assert seen == [0, 1, 2, 3]


def test_an_error_comes_out_where_its_item_would_have() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 3: unreadable")

    seen: list[int] = []
    with pytest.raises(ValueError, match="line 3"):
        seen.extend(read_ahead(items()))
    assert seen == [1, 2]


def test_leaving_early_waits_for_the_item_being_made_and_closes_the_source() -> None:
    closed = threading.Event()
    making = threading.Event()
    release = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield 0
            making.set()
            assert release.wait(WAIT)
            yield 1
            yield 2
        finally:
            closed.set()

    with closing(read_ahead(items(), name="test-read-ahead")) as ahead:
        assert next(ahead) == 0
        assert making.wait(WAIT)
        release.set()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("test-read-ahead")]


def test_an_error_of_the_caller_stops_the_reading() -> None:
    pulled = []

    def items() -> Iterator[int]:
        for n in range(1000):
            pulled.append(n)
            yield n

    def append_until_it_fails() -> None:
        with closing(read_ahead(items())) as ahead:
            for item in ahead:
                if item == 2:
                    raise RuntimeError("the append failed")

    with pytest.raises(RuntimeError):
        append_until_it_fails()
    assert len(pulled) <= 4  # the item in hand, at most one ahead, and the one being made


PERSON = [synthetic_resident_id(5, date(1970, 1, 1) + timedelta(days=n), n) for n in range(7)]


def test_an_ingest_in_many_batches_reports_as_one_pass_would(tmp_path: Path) -> None:
    """Bad rows in every batch, and keys repeated across batches (the same content, then other
    content): the report and the rejects come out in the file's order."""
    rows = 95
    record_ids = [f"r{n % 80}" for n in range(rows)]  # rows 81-95 repeat rows 1-15's keys
    codes = ["court.defaulter" if n % 11 else "no.such_code" for n in range(rows)]
    days = [date(2024, 1, 1) + timedelta(days=n % 80 % 30) for n in range(rows)]
    attrs = ['{"amount":5}' if n < 88 else '{"amount":6}' for n in range(rows)]
    table = pa.table(
        {
            "record_id": record_ids,
            "subject_id": [PERSON[n % 80 % len(PERSON)] for n in range(rows)],
            "subject_kind": ["person"] * rows,
            "code": codes,
            "occurred_at": pa.array(days, pa.date32()),
            "source": ["court"] * rows,
            "attrs": attrs,
        }
    )
    path = tmp_path / "records.parquet"
    pq.write_table(table, path)
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        report = ingest_records(engine, path, load_catalog(), batch_size=7)
    finally:
        engine.dispose()
    bad = {n for n in range(rows) if n % 11 == 0}
    first = {n: n - 80 for n in range(80, rows) if n not in bad and n - 80 not in bad}
    conflicts = [n for n, m in first.items() if attrs[n] != attrs[m]]
    duplicates = [n for n, m in first.items() if attrs[n] == attrs[m]]
    assert conflicts
    assert duplicates
    assert [reject.line for reject in report.rejects] == sorted(n + 1 for n in {*bad, *conflicts})
    assert report.rows == rows
    assert (report.conflicts, report.duplicates) == (len(conflicts), len(duplicates))
    assert report.accepted == rows - len(bad) - len(conflicts) - len(duplicates)
    assert report.batches == 13  # of 14: lines 85-91 are repeats and a bad code, and add nothing


def test_an_interrupt_while_waiting_for_the_item_is_raised_once_it_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second Ctrl-C while leaving: the source is closed only once no thread is inside it
    (closing it earlier failed with "generator already executing"), then the interrupt."""
    making, closed = threading.Event(), threading.Event()

    def items() -> Iterator[int]:
        try:
            yield 0
            making.set()
            time.sleep(0.3)
            yield 1
        finally:
            closed.set()

    real_wait = read_ahead_module.wait
    calls = []

    def interrupted_wait(futures: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_wait(futures)

    monkeypatch.setattr(read_ahead_module, "wait", interrupted_wait)
    ahead = read_ahead(items())
    assert next(ahead) == 0
    assert making.wait(WAIT)
    with pytest.raises(KeyboardInterrupt):
        ahead.close()
    assert closed.is_set()
    assert len(calls) == 2


@pytest.mark.parametrize("size", [0, 1, RAMP_FROM - 1, RAMP_FROM, 50_000, 50_001])
def test_the_first_batch_comes_in_parts_that_double(size: int) -> None:
    first, second = list(range(size)), list(range(size, size + 7))
    parts = list(ramp_up(iter([first, second])))
    assert [item for part in parts for item in part] == first + second
    sizes = [len(part) for part in parts[:-1]]
    if size < RAMP_FROM:
        assert sizes == [size]
    else:
        ends = [0, size >> 4, size >> 3, size >> 2, size >> 1, size]
        assert sizes == [end - start for start, end in pairwise(ends)]
        assert sizes[0] > 0
    assert parts[-1] == second


def test_arrow_batches_ramp_up_with_their_rows_in_order() -> None:
    batch = pa.RecordBatch.from_pydict({"n": list(range(10_000))})
    parts = list(ramp_up([batch]))
    assert [part.num_rows for part in parts] == [625, 625, 1_250, 2_500, 5_000]
    assert pa.Table.from_batches(parts).column("n").to_pylist() == list(range(10_000))
    assert list(ramp_up([])) == []
