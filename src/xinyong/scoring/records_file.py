"""Reading a records file (CSV, Parquet, JSON Lines) for scoring, with precise errors.

``xinyong score --records FILE`` scores a file directly, without a ledger. The file has the
ledger's record fields; only ``subject_id``, ``subject_kind``, ``code`` and ``occurred_at`` are
required (``record_id``, ``source``, ``case_id``, ``attrs`` and ``evidence`` are optional).
A file with a bad row is refused as a whole, naming the row and field: scoring around a bad
record would silently change somebody's standing.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xinyong.domain.id_columns import RefusedId, canonical_id_column
from xinyong.domain.json_text import JsonRefused, parse_json
from xinyong.domain.record_table import RECORDS_SCHEMA, REQUIRED, RecordsFileError
from xinyong.domain.records import SUBJECT_KINDS
from xinyong.ingest.readers import BadLine, FileError, detect_format, read_batches

__all__ = [
    "parquet_files",
    "read_records_file",
    "save_stream",
    "scans_in_place",
]


def read_records_file(path: Path) -> pa.Table:
    """Read and check a records file into :data:`RECORDS_SCHEMA` (row order kept).

    A directory is read as Parquet files (a partitioned ``xinyong export``), in file order.
    """
    if path.is_dir():
        files = parquet_files(path)
        table = pa.concat_tables([pq.read_table(file) for file in files], promote_options="default")
        return _checked(path, table, "row")
    try:
        fmt = detect_format(path)
    except FileError as exc:
        raise RecordsFileError(str(exc)) from exc
    if not path.is_file():
        raise RecordsFileError(f"{path}: no such file")
    if fmt == "parquet":
        table = pq.read_table(path)
        unit = "row"
    elif fmt == "csv":
        try:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in _csv_header(path)},
                    strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:  # an empty file, a row with too many fields...
            raise RecordsFileError(f"{path}: not a readable CSV file: {exc}") from exc
        unit = "data row"
    else:
        table = _read_jsonl(path)
        unit = "line"
    return _checked(path, table, unit)


def save_stream(stream: BinaryIO, folder: Path) -> Path:
    """A records file read from ``stream`` (standard input) saved in ``folder``, named by its
    format as its first bytes tell it: Parquet's magic number, a JSON object (JSON Lines), else
    CSV. It is then read like any file, against the same schema."""
    head = stream.read(_SNIFF)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    suffix = ".parquet" if head.startswith(b"PAR1") else ".jsonl" if text[:1] == b"{" else ".csv"
    path = folder / f"stdin{suffix}"
    with path.open("wb") as out:
        out.write(head)
        shutil.copyfileobj(stream, out)
    return path


_SNIFF = 4096


def scans_in_place(path: Path) -> bool:
    """Whether ``path`` is Parquet a batch engine scans itself (a directory or a .parquet file)."""
    return path.is_dir() or path.suffix.lower() in (".parquet", ".pq")


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a dataset, in a stable order (hidden and temporary files skipped)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise RecordsFileError(f"{path}: no such file or directory")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in (".parquet", ".pq")
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise RecordsFileError(f"{path}: no Parquet files in the directory")
    return files


def _checked(path: Path, table: pa.Table, unit: str) -> pa.Table:
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise RecordsFileError(f"{path}: missing column(s) {', '.join(missing)}")
    return _normalise(path, table, unit)


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [name.strip() for name in next(csv.reader(handle), [])]


_TEXT_FIELDS = (
    "record_id",
    "source",
    "subject_id",
    "subject_kind",
    "code",
    "occurred_at",
    "case_id",
    "attrs",
    "evidence",
)
"""Record fields read as text from JSON Lines (a number is its text; ``attrs`` an object's
canonical JSON)."""


def _read_jsonl(path: Path) -> pa.Table:
    """The lines as a table whose columns are every field any line has: a field missing from a
    line is null for that line only, whichever line comes first (a table typed from the first
    line would drop ``case_id`` or ``attrs`` from every line when the first has none)."""
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    names: dict[str, None] = {}
    for batch in read_batches(path, REQUIRED):
        for item in batch:
            if isinstance(item, BadLine):
                raise RecordsFileError(f"{path}: line {item.line}: {item.reason}")
            values = dict(item.values)
            attrs = values.get("attrs")
            if isinstance(attrs, dict):
                values["attrs"] = orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS).decode()
            for key in _TEXT_FIELDS:
                value = values.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values[key] = str(value)
            names.update(dict.fromkeys(values))
            rows.append(values)
            lines.append(item.line)
    if not rows:
        return RECORDS_SCHEMA.empty_table()
    columns: dict[str, pa.Array] = {}
    for name in names:
        data = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(data, type=pa.string() if name in _TEXT_FIELDS else None)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            line = next(
                (n for n, v in zip(lines, data, strict=True) if not isinstance(v, str | None)),
                lines[0],
            )
            raise RecordsFileError(
                f"{path}: line {line}: {name}: not text"
                if name in _TEXT_FIELDS
                else f"{path}: {name}: values of different types ({exc})"
            ) from exc
    return pa.table(columns)


def _fail(path: Path, unit: str, index: int, field: str, message: str) -> RecordsFileError:
    return RecordsFileError(f"{path}: {unit} {index + 1}: {field}: {message}")


def _first_bad(mask: pa.ChunkedArray | pa.Array) -> int | None:
    positions = pc.indices_nonzero(pc.fill_null(mask, True))
    return None if len(positions) == 0 else int(positions[0].as_py())


def _strings(table: pa.Table, name: str) -> pa.ChunkedArray:
    column = table.column(name)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    return pc.cast(column, pa.string())


def _dates(path: Path, table: pa.Table, unit: str) -> pa.ChunkedArray:
    """``occurred_at`` as dates: a date or timestamp column cast, text parsed as YYYY-MM-DD."""
    occurred = table.column("occurred_at")
    if pa.types.is_date32(occurred.type):
        return occurred
    if pa.types.is_timestamp(occurred.type) or pa.types.is_date64(occurred.type):
        return pc.cast(occurred, pa.date32())
    text = _strings(table, "occurred_at")
    valid = pc.match_substring_regex(text, r"^\d{4}-\d{2}-\d{2}$")
    bad = _first_bad(pc.invert(valid))
    if bad is not None:
        value = text[bad].as_py()
        problem = (  # as ingest names them (xinyong.ingest.validate)
            "missing"
            if value is None or not value.strip()
            else f"bad date {value!r}: expected YYYY-MM-DD"
        )
        raise _fail(path, unit, bad, "occurred_at", problem)
    parsed = pc.strptime(text, "%Y-%m-%d", "s", error_is_null=True)
    # strptime takes any day up to 31 and rolls it over (2024-02-30 is 1 March): a day that
    # does not exist is one whose date, written again, is not the text
    exists = pc.equal(pc.strftime(parsed, "%Y-%m-%d"), text)
    bad = _first_bad(pc.and_kleene(pc.invert(exists), pc.is_valid(text)))
    if bad is not None:
        raise _fail(path, unit, bad, "occurred_at", f"bad date {text[bad].as_py()!r}: no such day")
    return pc.cast(parsed, pa.date32())


def _normalise(path: Path, table: pa.Table, unit: str) -> pa.Table:
    n = table.num_rows
    columns: dict[str, pa.ChunkedArray] = {}
    for name in ("record_id", "source", "subject_id", "subject_kind", "code", "case_id", "attrs"):
        if name in table.column_names:
            columns[name] = _strings(table, name)
        else:
            columns[name] = pa.chunked_array([pa.nulls(n, pa.string())])
    for name in ("subject_id", "code"):
        bad = _first_bad(pc.equal(pc.utf8_trim_whitespace(columns[name]), ""))
        if bad is not None:
            raise _fail(path, unit, bad, name, "missing")
    try:  # the same id however a file spells it, as when it is ingested
        columns["subject_id"] = canonical_id_column(columns["subject_id"])
    except RefusedId as exc:
        raise _fail(path, unit, exc.row, "subject_id", exc.reason) from None
    bad = _first_bad(pc.invert(pc.is_in(columns["subject_kind"], pa.array(SUBJECT_KINDS))))
    if bad is not None:
        value = columns["subject_kind"][bad].as_py()
        raise _fail(
            path, unit, bad, "subject_kind", f"must be person or organization, got {value!r}"
        )
    occurred = _dates(path, table, unit)
    bad = _first_bad(pc.is_null(occurred))
    if bad is not None:
        raise _fail(path, unit, bad, "occurred_at", "missing")
    attrs = pc.fill_null(columns["attrs"], "{}")
    attrs = pc.if_else(pc.equal(pc.utf8_trim_whitespace(attrs), ""), "{}", attrs)
    _check_attrs(path, unit, attrs)
    case_id = pc.if_else(pc.equal(columns["case_id"], ""), None, columns["case_id"])
    _one_kind_each(path, unit, columns["subject_id"], columns["subject_kind"])
    record_id = columns["record_id"]
    if record_id.null_count == n and n:
        record_id = pa.chunked_array([pa.array([str(i + 1) for i in range(n)])])
    return pa.Table.from_arrays(
        [
            record_id,
            columns["source"],
            columns["subject_id"],
            columns["subject_kind"],
            columns["code"],
            occurred,
            case_id,
            attrs,
        ],
        schema=RECORDS_SCHEMA,
    )


def _check_attrs(path: Path, unit: str, attrs: pa.ChunkedArray) -> None:
    """Refuse a file whose ``attrs`` are not JSON objects, naming the first such row, before any
    engine reads them (an engine would fail on them halfway, or only when a rule reads them).
    Each distinct text is parsed once."""
    distinct = pc.unique(attrs)
    bad = []
    for index, text in enumerate(distinct.to_pylist()):
        try:
            value = parse_json(text)
        except JsonRefused as exc:
            bad.append((index, f"bad JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            bad.append((index, "must be a JSON object"))
    if not bad:
        return
    reasons = dict(bad)
    wrong = distinct.take(pa.array([index for index, _ in bad]))
    row = _first_bad(pc.is_in(attrs, wrong))
    assert row is not None
    reason = reasons[distinct.index(attrs[row]).as_py()]
    raise _fail(path, unit, row, "attrs", reason)


def _one_kind_each(path: Path, unit: str, subject: pa.ChunkedArray, kind: pa.ChunkedArray) -> None:
    """Refuse a file that names one subject as a person and as an organization (ingest would
    reject the later rows: a subject is registered with one kind)."""
    pairs = pa.table({"subject_id": subject, "kind": kind})
    kinds = pairs.group_by("subject_id").aggregate([("kind", "count_distinct")])
    if len(kinds) == 0 or pc.max(kinds.column("kind_count_distinct")).as_py() <= 1:
        return
    first: dict[str, str] = {}
    for index, (subject_id, subject_kind) in enumerate(
        zip(subject.to_pylist(), kind.to_pylist(), strict=True)
    ):
        seen = first.setdefault(subject_id, subject_kind)
        if seen != subject_kind:
            raise _fail(
                path,
                unit,
                index,
                "subject_kind",
                f"subject {subject_id!r} is {seen} in an earlier {unit}, not {subject_kind}",
            )
