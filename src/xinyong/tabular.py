"""Reading and writing tables as CSV, Parquet or JSON Lines, chosen by file extension.

Every command that takes or produces a table (records to ingest, synthetic populations, audit
exports) goes through :func:`read_table` and :func:`write_table`, so they all accept the same
formats and behave the same way:

* ``.csv``; ``.parquet`` or ``.pq``; ``.jsonl`` or ``.ndjson``. The path ``-`` means CSV on
  standard output (for writing) or standard input (for reading).
* Writes are atomic: the table goes to a temporary file in the target directory, which then
  replaces the target in one step, so a crash never leaves half a file behind.
* Writes are deterministic: the same table always gives the same bytes, so outputs can be
  compared and hashed.

CSV carries no types, so reading infers them, but only where the conversion is lossless:
``0012`` and 18-digit identifiers stay text (an integer column would drop the leading zeros or
turn an ID number into a quantity). Parquet keeps the exact Arrow types; use it when types matter.

In JSON Lines, a column named ``attrs`` holding JSON object text (the conduct-record attributes)
is written as a nested object and read back as canonical JSON text (sorted keys).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = [
    "ATTRS_COLUMN",
    "EXTENSIONS",
    "STDIO",
    "TableFormat",
    "UnsupportedFormat",
    "read_table",
    "table_format",
    "write_table",
]

STDIO = Path("-")
"""The path that means standard output (or input): always CSV."""

ATTRS_COLUMN = "attrs"
"""The column whose JSON object text becomes a nested object in JSON Lines."""


class TableFormat(StrEnum):
    """The supported file formats."""

    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


EXTENSIONS: Mapping[str, TableFormat] = {
    ".csv": TableFormat.CSV,
    ".parquet": TableFormat.PARQUET,
    ".pq": TableFormat.PARQUET,
    ".jsonl": TableFormat.JSONL,
    ".ndjson": TableFormat.JSONL,
}
"""File extensions (lowercase, with the dot) and the format each selects."""


class UnsupportedFormat(ValueError):
    """A path whose extension names no supported table format."""

    def __init__(self, path: Path) -> None:
        self.path = path
        supported = ", ".join(sorted(EXTENSIONS))
        super().__init__(f"{path}: unsupported table format; use one of {supported}")


def table_format(path: Path) -> TableFormat:
    """The format ``path`` selects by its extension (``-`` is CSV)."""
    if path == STDIO:
        return TableFormat.CSV
    try:
        return EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise UnsupportedFormat(path) from None


def read_table(path: Path, *, column_types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    """Read a table, choosing the format by extension; ``-`` reads CSV from standard input.

    ``column_types`` fixes the type of the named columns (for example an identifier column that
    must stay text); the others keep their stored types (Parquet) or are inferred losslessly
    (CSV, JSON Lines).
    """
    fmt = table_format(path)
    forced = dict(column_types or {})
    if fmt is TableFormat.PARQUET:
        table = pq.read_table(path)
    elif fmt is TableFormat.JSONL:
        table = _read_jsonl(path)
    else:
        data = sys.stdin.buffer.read() if path == STDIO else path.read_bytes()
        table = _read_csv(data, forced)
    return _cast_columns(table, forced)


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` atomically and deterministically; ``-`` writes CSV to standard output."""
    fmt = table_format(path)
    if path == STDIO:
        sys.stdout.buffer.write(_csv_bytes(table))
        sys.stdout.buffer.flush()
        return
    with _atomic_path(path) as temporary:
        if fmt is TableFormat.PARQUET:
            # zstd: compact and fast; the file embeds the pyarrow version, so bytes are stable
            # for a given installation.
            pq.write_table(table, temporary, compression="zstd")
        elif fmt is TableFormat.JSONL:
            with temporary.open("wb") as handle:
                _write_jsonl(table, handle.write)
        else:
            pacsv.write_csv(table, str(temporary))


# ---------------------------------------------------------------- atomic writes


@contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    directory = path.parent
    temporary = directory / f".{path.name}.{uuid.uuid4().hex}.tmp"
    # O_EXCL reserves the name; mode 0o666 lets the umask decide the final permissions, as for
    # a file created directly (tempfile would leave it owner-only).
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    # Make the rename itself durable; not every platform can open a directory.
    with suppress(OSError):
        _fsync(directory)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---------------------------------------------------------------- CSV


def _csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _read_csv(data: bytes, forced: Mapping[str, pa.DataType]) -> pa.Table:
    header = next(csv.reader(io.StringIO(data[:1_048_576].decode("utf-8-sig", "replace"))), [])
    # Read every column as text first; types are then inferred column by column, losslessly.
    table = pacsv.read_csv(
        pa.BufferReader(data),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=True,
            # pyarrow writes null as an empty field and "" as a quoted one: keep them apart.
            quoted_strings_can_be_null=False,
        ),
    )
    columns = [
        column if name in forced else _infer_text(column, numbers=True)
        for name, column in zip(table.column_names, table.columns, strict=True)
    ]
    return pa.table(columns, names=table.column_names)


# ---------------------------------------------------------------- type inference for text

# At most 15 digits: longer digit strings are identifiers (ID numbers, account numbers), and
# spreadsheets lose precision beyond 15 significant digits anyway.
_INTEGER = r"^-?(0|[1-9][0-9]{0,14})$"
_FLOAT = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$|^-?inf$|^nan$"
_LONG_DIGITS = r"^-?[0-9]{16,}$"
_BOOLEAN = r"^(true|false)$"
_SAMPLE_ROWS = 1_000
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$"
_TIMESTAMP_UTC = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"


def _infer_text(column: pa.ChunkedArray, *, numbers: bool) -> pa.ChunkedArray:
    """Convert a text column to a narrower type when every value converts without loss."""
    values = column.drop_null()
    if len(values) == 0:
        return column
    candidates: list[tuple[str, pa.DataType]] = []
    if numbers:
        candidates += [(_INTEGER, pa.int64()), (_FLOAT, pa.float64())]
    candidates += [
        (_DATE, pa.date32()),
        (_TIMESTAMP, pa.timestamp("us")),
        (_TIMESTAMP_UTC, pa.timestamp("us", tz="UTC")),
    ]
    # Most text columns fail on their first values: try a sample before scanning everything.
    sample = values.slice(0, _SAMPLE_ROWS)
    if numbers and _all_match(sample, values, _BOOLEAN):
        return column.cast(pa.bool_())
    if numbers and pc.any(pc.match_substring_regex(values, _LONG_DIGITS)).as_py():
        # A long digit string among the values makes the column text (see _INTEGER); as a
        # float it would silently lose digits.
        candidates = candidates[2:]
    for pattern, target in candidates:
        if _all_match(sample, values, pattern):
            try:
                return column.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                # Shaped like a date but not one (2024-02-30): keep the text.
                return column
    return column


def _all_match(sample: pa.ChunkedArray, values: pa.ChunkedArray, pattern: str) -> bool:
    # all() stops at the sample when it fails; the full scan runs only for likely matches.
    return all(pc.all(pc.match_substring_regex(part, pattern)).as_py() for part in (sample, values))


def _cast_columns(table: pa.Table, forced: Mapping[str, pa.DataType]) -> pa.Table:
    for name, target in forced.items():
        if name in table.column_names:
            index = table.column_names.index(name)
            table = table.set_column(index, name, table.column(index).cast(target))
    return table


# ---------------------------------------------------------------- JSON Lines

_BATCH_ROWS = 65_536


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        # Text keeps every digit; a float would round.
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} values to JSON Lines")


def _write_jsonl(table: pa.Table, write: Callable[[bytes], object]) -> None:
    has_attrs = ATTRS_COLUMN in table.column_names
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        lines = []
        # to_pylist keeps the column order in each dict, and orjson keeps dict order.
        for row in batch.to_pylist():
            if has_attrs:
                row[ATTRS_COLUMN] = _attrs_object(row[ATTRS_COLUMN])
            lines.append(orjson.dumps(row, default=_json_default))
        if lines:
            write(b"\n".join(lines) + b"\n")


def _attrs_object(text: object) -> object:
    if text is None or isinstance(text, dict):
        return text
    if not isinstance(text, str):
        raise ValueError(f"column {ATTRS_COLUMN!r} must hold JSON object text, got {text!r}")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"column {ATTRS_COLUMN!r} holds invalid JSON {text!r}: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"column {ATTRS_COLUMN!r} must hold a JSON object, got {text!r}")
    return value


def _read_jsonl(path: Path) -> pa.Table:
    columns: dict[str, list[object]] = {}
    rows = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: invalid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: each line must be a JSON object")
            for name, value in record.items():
                if name not in columns:
                    # A column first seen on a later line was missing (null) before it.
                    columns[name] = [None] * rows
                columns[name].append(
                    _attrs_text(value) if name == ATTRS_COLUMN else value,
                )
            rows += 1
            for values in columns.values():
                if len(values) < rows:
                    values.append(None)
    arrays = []
    for name, values in columns.items():
        try:
            array = pa.chunked_array([pa.array(values)])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(f"{path}: column {name!r} mixes value types: {exc}") from exc
        if pa.types.is_string(array.type) and name != ATTRS_COLUMN:
            array = _infer_text(array, numbers=False)
        arrays.append(array)
    return pa.table(arrays, names=list(columns)) if columns else pa.table({})


def _attrs_text(value: object) -> object:
    if isinstance(value, dict):
        # Canonical form, as the ledger stores it: sorted keys, no spaces.
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value
