"""Reading CSV, Parquet and JSON Lines files as numbered rows.

Every row keeps the number a person would look for: the line in a CSV or JSON Lines file (the
first line of a quoted multi-line CSV record), the row number (from 1) in a Parquet file. A line
that cannot be parsed at all (bad JSON, wrong number of CSV fields) comes out as a
:class:`BadLine` so that the caller quarantines it and goes on with the rest.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

__all__ = [
    "FORMATS",
    "BadLine",
    "FileError",
    "RawRow",
    "count_rows",
    "detect_format",
    "read_batches",
]

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


class FileError(Exception):
    """The file as a whole cannot be read (missing, unknown format, missing columns)."""


@dataclass(frozen=True, slots=True)
class RawRow:
    """One parsed row: its line (or Parquet row) number and its values by column name."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be parsed into a row."""

    line: int
    reason: str
    text: str


def detect_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from the file's extension."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise FileError(f"{path}: unknown format {path.suffix or '(no extension)'!r}; use {known}")
    return fmt


def read_batches(
    path: Path, required: Sequence[str], batch_size: int = 50_000
) -> Iterator[list[RawRow | BadLine]]:
    """Yield the file's rows in batches; raise FileError for problems with the whole file.

    ``required`` columns must be present in a CSV header or Parquet schema; JSON Lines has no
    header, so there a missing key is a problem of the row.
    """
    fmt = detect_format(path)
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    if fmt == "csv":
        yield from _csv_batches(path, required, batch_size)
    elif fmt == "parquet":
        yield from _parquet_batches(path, required, batch_size)
    else:
        yield from _jsonl_batches(path, batch_size)


def count_rows(path: Path) -> int | None:
    """The number of rows when it is cheap to know (Parquet metadata), else None."""
    if detect_format(path) == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def _missing(path: Path, header: Sequence[str], required: Sequence[str]) -> None:
    absent = [name for name in required if name not in header]
    if absent:
        raise FileError(f"{path}: missing column(s) {', '.join(absent)}; found {', '.join(header)}")


def _csv_batches(
    path: Path, required: Sequence[str], batch_size: int
) -> Iterator[list[RawRow | BadLine]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise FileError(f"{path}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(f"{path}: empty file (no header line)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileError(f"{path}: line 1: {exc}") from exc
        header = [name.strip() for name in header]
        _missing(path, header, required)
        width = len(header)
        batch: list[RawRow | BadLine] = []
        last_line = reader.line_num
        while True:
            start = last_line + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                batch.append(BadLine(start, f"unparsable CSV: {exc}", ""))
                last_line = reader.line_num
                continue
            except UnicodeDecodeError as exc:
                raise FileError(f"{path}: after line {last_line}: not UTF-8 text ({exc})") from exc
            last_line = reader.line_num
            if not fields:  # blank line
                continue
            if len(fields) != width:
                text = ",".join(fields)
                batch.append(
                    BadLine(start, f"has {len(fields)} fields, the header has {width}", text)
                )
            else:
                batch.append(RawRow(start, dict(zip(header, fields, strict=True))))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _parquet_batches(
    path: Path, required: Sequence[str], batch_size: int
) -> Iterator[list[RawRow | BadLine]]:
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise FileError(f"{path}: not a readable Parquet file ({exc})") from exc
    header = list(parquet.schema_arrow.names)
    _missing(path, header, required)
    line = 1
    for record_batch in parquet.iter_batches(batch_size=batch_size):
        columns = [record_batch.column(i).to_pylist() for i in range(record_batch.num_columns)]
        names = record_batch.schema.names
        rows: list[RawRow | BadLine] = []
        for values in zip(*columns, strict=True):
            rows.append(RawRow(line, dict(zip(names, values, strict=True))))
            line += 1
        yield rows


def _jsonl_batches(path: Path, batch_size: int) -> Iterator[list[RawRow | BadLine]]:
    batch: list[RawRow | BadLine] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.strip()
            if not text:
                continue
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                batch.append(BadLine(number, f"bad JSON: {exc}", _preview(text)))
            else:
                if isinstance(value, dict):
                    batch.append(RawRow(number, value))
                else:
                    batch.append(BadLine(number, "not a JSON object", _preview(text)))
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def _preview(raw: bytes) -> str:
    return raw[:500].decode("utf-8", errors="replace")
