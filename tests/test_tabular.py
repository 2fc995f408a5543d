"""Tests for xinyong.tabular: format by extension, atomic and deterministic writes."""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xinyong.tabular import (
    TableFormat,
    UnsupportedFormat,
    read_table,
    table_format,
    write_table,
)


def records() -> pa.Table:
    """A small conduct-record table with the awkward cases: leading zeros, nulls, empty text."""
    return pa.table(
        {
            "record_id": ["r1", "r2", "r3"],
            # All digits: a naive CSV reader would make these integers and drop the zeros.
            "subject_id": ["000001198001010010", "110105194912310021", "000002199002020021"],
            "code": ["court.defaulter", "finance.repaid", "civic.blood_donation"],
            "occurred_at": pa.array([date(2024, 1, 2), date(2024, 2, 29), date(2025, 12, 31)]),
            "case_id": pa.array(["c-1", None, ""], pa.string()),
            "amount": pa.array([1200, None, 0], pa.int64()),
            "rate": [0.5, 1.25, -3.0],
            "flag": [True, False, None],
            "attrs": ['{"aggravated":false,"amount":1200}', "{}", '{"ml":400}'],
        }
    )


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", TableFormat.CSV),
        ("a.CSV", TableFormat.CSV),
        ("a.parquet", TableFormat.PARQUET),
        ("a.pq", TableFormat.PARQUET),
        ("a.jsonl", TableFormat.JSONL),
        ("a.ndjson", TableFormat.JSONL),
        ("-", TableFormat.CSV),
    ],
)
def test_table_format(name: str, expected: TableFormat) -> None:
    assert table_format(Path(name)) is expected


@pytest.mark.parametrize("name", ["a.xlsx", "a", "a.csv.gz", "a.json"])
def test_unsupported_format_names_path_and_extensions(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    with pytest.raises(UnsupportedFormat) as info:
        write_table(records(), path)
    message = str(info.value)
    assert str(path) in message
    for extension in (".csv", ".parquet", ".pq", ".jsonl", ".ndjson"):
        assert extension in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnsupportedFormat):
        read_table(path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- round trips


def test_parquet_round_trip_keeps_types(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_table(records(), path)
    assert read_table(path).equals(records())
    assert pq.read_schema(path).field("occurred_at").type == pa.date32()


def test_csv_round_trip_infers_lossless_types(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_table(records(), path)
    assert read_table(path).equals(records())


def test_csv_keeps_identifiers_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "zeros,long,short,date,bad_date,number\n"
        "0012,110105194912310021,12,2024-01-02,2024-02-30,1.5\n"
        "0013,110105194912310022,-3,2024-01-03,2024-01-01,2\n"
    )
    table = read_table(path)
    assert table.schema == pa.schema(
        [
            ("zeros", pa.string()),
            ("long", pa.string()),
            ("short", pa.int64()),
            ("date", pa.date32()),
            ("bad_date", pa.string()),
            ("number", pa.float64()),
        ]
    )
    assert table.column("zeros").to_pylist() == ["0012", "0013"]


def test_csv_forced_column_types(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,n\n12,1\n13,2\n")
    table = read_table(path, column_types={"id": pa.string()})
    assert table.column("id").to_pylist() == ["12", "13"]
    assert table.column("n").type == pa.int64()


def test_csv_timestamps(tmp_path: Path) -> None:
    table = pa.table(
        {
            "naive": pa.array([datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("us")),
            "utc": pa.array([datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("us", tz="UTC")),
        }
    )
    path = tmp_path / "t.csv"
    write_table(table, path)
    assert read_table(path).equals(table)


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_table(records(), path)
    assert read_table(path).equals(records())


def test_jsonl_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    write_table(records(), path)
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert list(first) == records().column_names
    assert first == {
        "record_id": "r1",
        "subject_id": "000001198001010010",
        "code": "court.defaulter",
        "occurred_at": "2024-01-02",
        "case_id": "c-1",
        "amount": 1200,
        "rate": 0.5,
        "flag": True,
        "attrs": {"aggravated": False, "amount": 1200},
    }
    assert json.loads(lines[1])["attrs"] == {}
    assert json.loads(lines[1])["case_id"] is None


def test_jsonl_read_missing_keys_and_canonical_attrs(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"a": 1, "attrs": {"z": 1, "b": "x"}}\n\n{"b": "2024-01-01", "a": 2}\n{"a": null}\n'
    )
    table = read_table(path)
    assert table.column_names == ["a", "attrs", "b"]
    assert table.column("a").to_pylist() == [1, 2, None]
    assert table.column("attrs").to_pylist() == ['{"b":"x","z":1}', None, None]
    assert table.column("b").to_pylist() == [None, date(2024, 1, 1), None]


def test_jsonl_refuses_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n[1]\n')
    with pytest.raises(ValueError, match=":2: each line must be a JSON object"):
        read_table(path)
    path.write_text('{"a": 1}\n{"a": "x"}\n')
    with pytest.raises(ValueError, match="column 'a' mixes value types"):
        read_table(path)
    with pytest.raises(ValueError, match="JSON object"):
        write_table(pa.table({"attrs": ["[1]"]}), path)


def test_jsonl_decimals_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_table(pa.table({"d": pa.array([Decimal("1.10")], pa.decimal128(5, 2))}), path)
    assert path.read_text() == '{"d":"1.10"}\n'


# ---------------------------------------------------------------- determinism and atomicity


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_writes_are_deterministic(suffix: str, tmp_path: Path) -> None:
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    write_table(records(), first)
    # A table built separately (different chunking) with the same content.
    write_table(pa.concat_tables([records().slice(0, 1), records().slice(1)]), second)
    assert first.read_bytes() == second.read_bytes()


def test_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("old\n")
    write_table(records(), path)
    assert read_table(path).equals(records())
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("old\n")
    with pytest.raises(TypeError, match="bytes"):
        write_table(pa.table({"b": [b"\x00"]}), path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]


def test_written_file_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "t.parquet"
        write_table(records(), path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- standard streams


def test_dash_writes_csv_to_stdout(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    write_table(records(), Path("-"))
    written = capsysbinary.readouterr().out
    path = tmp_path / "t.csv"
    write_table(records(), path)
    assert written == path.read_bytes()
    assert written.startswith(b'"record_id","subject_id"')


def test_dash_reads_csv_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a,b\n1,x\n")))
    table = read_table(Path("-"))
    assert table.to_pylist() == [{"a": 1, "b": "x"}]
