"""Records as an Arrow table: the columns every engine reads, and its rows as InputRecord.

A records file, an export of the ledger and the lab's simulated records all arrive in
:data:`RECORDS_SCHEMA`, ``attrs`` as JSON object text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa

from xinyong.domain.json_text import JsonRefused, parse_json
from xinyong.domain.records import InputRecord

__all__ = [
    "CHECKS",
    "MIXED_KINDS",
    "RECORDS_SCHEMA",
    "REQUIRED",
    "RecordsFileError",
    "input_records",
]

RECORDS_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("source", pa.string()),
        ("subject_id", pa.string()),
        ("subject_kind", pa.string()),
        ("code", pa.string()),
        ("occurred_at", pa.date32()),
        ("case_id", pa.string()),
        ("attrs", pa.string()),
    ]
)

REQUIRED = ("subject_id", "subject_kind", "code", "occurred_at")
"""The columns a records file must have."""

CHECKS = (
    "subject_id: missing",
    "code: missing",
    "subject_kind: must be person or organization",
    "occurred_at: missing or not a YYYY-MM-DD date",
)
"""What each check of a dataset scanned in place refuses, in order (a scan has no row numbers:
it counts the rows that fail and names the first failing record id)."""
MIXED_KINDS = (
    "subject_kind: {count:,} subject(s) named both as person and as organization "
    "(first subject_id {first})"
)


class RecordsFileError(ValueError):
    """A records file that cannot be scored; the message names the file, row and field."""


def input_records(path: Path, table: pa.Table) -> Iterator[InputRecord]:
    """The rows of a table in :data:`RECORDS_SCHEMA` as :class:`InputRecord`, attrs parsed and
    checked (``path`` names the table's origin in errors)."""
    columns = {name: table.column(name).to_pylist() for name in RECORDS_SCHEMA.names}
    for index in range(table.num_rows):
        text = columns["attrs"][index]
        try:
            attrs = parse_json(text)
        except JsonRefused as exc:
            raise RecordsFileError(f"{path}: row {index + 1}: attrs: bad JSON: {exc}") from exc
        if not isinstance(attrs, dict):
            raise RecordsFileError(f"{path}: row {index + 1}: attrs: must be a JSON object")
        occurred: date = columns["occurred_at"][index]
        yield InputRecord(
            record_id=columns["record_id"][index] or str(index + 1),
            subject_id=columns["subject_id"][index],
            subject_kind=columns["subject_kind"][index],
            code=columns["code"][index],
            occurred_at=occurred,
            source=columns["source"][index] or "",
            case_id=columns["case_id"][index],
            attrs=attrs,
        )
