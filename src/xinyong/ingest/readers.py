"""Reading CSV, Parquet and JSON Lines files as numbered rows.

Every row keeps the number a person would look for: the line in a CSV or JSON Lines file (the
first line of a quoted multi-line CSV record), the row number (from 1) in a Parquet file. A line
that cannot be parsed at all (bad JSON, wrong number of CSV fields) comes out as a
:class:`BadLine` so that the caller quarantines it and goes on with the rest.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from xinyong.domain.json_text import JsonRefused, parse_json

__all__ = [
    "FORMATS",
    "UNREADABLE",
    "BadLine",
    "FileError",
    "RawRow",
    "batch_rows",
    "check_utf8",
    "count_rows",
    "detect_format",
    "parquet_batches",
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
    """A line that could not be parsed into a row (``field`` names the column at fault when
    one is, as for text that is not UTF-8)."""

    line: int
    reason: str
    text: str
    field: str = "(line)"


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


SAMPLE_BYTES = 1 << 16
"""How much of a text file is read first to tell whether it is UTF-8 at all."""
_ESCAPED = re.compile("[\udc80-\udcff]")
"""A byte that was not UTF-8, kept by the ``surrogateescape`` error handler."""


def check_utf8(path: Path) -> None:
    """Refuse a text file that is not UTF-8 as a whole, before anything of it is committed.

    A file saved in another encoding (GBK and GB18030 are common for Chinese spreadsheets) fails
    on every line with a Chinese character; saying so at once, with the way to convert it, beats
    a reject for every row. The first :data:`SAMPLE_BYTES` decide: when some of its lines with
    non-ASCII characters are UTF-8, the file is, and a line that is not (pasted from elsewhere)
    is a reject of its own row; when none of them is, the file is refused.
    """
    try:
        with path.open("rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
    except OSError as exc:
        raise FileError(f"{path}: {exc.strerror}") from exc
    lines = sample.split(b"\n")
    if len(sample) == SAMPLE_BYTES:
        lines = lines[:-1]  # may end inside a character
    first_bad: int | None = None
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            first_bad = first_bad or number
        else:
            return  # a UTF-8 file
    if first_bad is None:
        return
    line = lines[first_bad - 1]
    hint = ""
    try:
        line.decode("gb18030")
        hint = "; it reads as GB18030/GBK: convert it first (iconv -f GB18030 -t UTF-8)"
    except UnicodeDecodeError:
        pass
    byte = next(b for b in line if b >= 0x80)
    raise FileError(f"{path}: line {first_bad}: not UTF-8 text (byte 0x{byte:02x}){hint}")


def _undecoded(header: Sequence[str], fields: Sequence[str]) -> BadLine | None:
    for name, value in zip(header, fields, strict=False):
        found = _ESCAPED.search(value)
        if found is not None:
            byte = ord(found.group()) - 0xDC00
            text = ",".join(fields).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return BadLine(0, f"not UTF-8 text (byte 0x{byte:02x})", text, name)
    return None


def _csv_batches(
    path: Path, required: Sequence[str], batch_size: int
) -> Iterator[list[RawRow | BadLine]]:
    check_utf8(path)
    try:
        handle = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise FileError(f"{path}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(f"{path}: empty file (no header line)") from None
        except csv.Error as exc:
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
            last_line = reader.line_num
            if not fields:  # blank line
                continue
            undecoded = _undecoded(header, fields)
            if undecoded is not None:
                batch.append(BadLine(start, undecoded.reason, undecoded.text, undecoded.field))
            elif len(fields) != width:
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


def parquet_batches(
    path: Path, required: Sequence[str], batch_size: int = 50_000
) -> Iterator[pa.RecordBatch]:
    """The Parquet file's rows as Arrow batches (row ``n`` of the file is line ``n``); raise
    FileError for an unreadable file or missing columns."""
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise FileError(f"{path}: not a readable Parquet file ({exc})") from exc
    header = list(parquet.schema_arrow.names)
    _missing(path, header, required)
    yield from parquet.iter_batches(batch_size=batch_size)


def _parquet_batches(
    path: Path, required: Sequence[str], batch_size: int
) -> Iterator[list[RawRow | BadLine]]:
    line = 1
    for record_batch in parquet_batches(path, required, batch_size):
        yield batch_rows(record_batch, line)
        line += record_batch.num_rows


def batch_rows(
    batch: pa.RecordBatch, first_line: int, indices: Sequence[int] | None = None
) -> list[RawRow | BadLine]:
    """Rows of an Arrow batch (all, or those at ``indices``) by column name, numbered from
    ``first_line``; of two columns with one name, the last wins, as in a CSV header. A row
    holding a value Python cannot hold (text that is not UTF-8, a date beyond year 9999, a
    struct with a field name twice) comes out as a :class:`BadLine` naming the column."""
    names = batch.schema.names
    wanted = range(batch.num_rows) if indices is None else indices
    if len(wanted) * 8 > batch.num_rows:  # most rows: whole columns at once
        try:
            columns = [column.to_pylist() for column in batch.columns]
        except UNREADABLE:
            pass  # value by value below, to name the rows
        else:
            return [
                RawRow(first_line + i, dict(zip(names, (c[i] for c in columns), strict=True)))
                for i in wanted
            ]
    return [_row(batch, names, first_line, i) for i in wanted]


UNREADABLE = (UnicodeDecodeError, OverflowError, ValueError, pa.ArrowException)
"""What converting an Arrow value Python cannot hold raises."""


def _row(
    batch: pa.RecordBatch, names: Sequence[str], first_line: int, index: int
) -> RawRow | BadLine:
    values: dict[str, Any] = {}
    for name, column in zip(names, batch.columns, strict=True):
        try:
            values[name] = column[index].as_py()
        except UNREADABLE as exc:
            reason = f"a value that cannot be read ({type(exc).__name__}: {exc})"
            return BadLine(first_line + index, reason, "", name)
    return RawRow(first_line + index, values)


def _jsonl_batches(path: Path, batch_size: int) -> Iterator[list[RawRow | BadLine]]:
    check_utf8(path)
    batch: list[RawRow | BadLine] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.strip()
            if not text:
                continue
            try:
                value = parse_json(text)
            except JsonRefused as exc:
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
