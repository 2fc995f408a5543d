"""What a ledger entry's hash covers: the canonical bytes of each kind of entry.

Appending and verifying call the same functions on the same column tuples, so a row hashes the
same whether it was just built in memory or read back from SQLite or PostgreSQL. The position is
part of the hashed data: moving a row to another position breaks its hash as surely as editing it.

Dates hash as ``YYYY-MM-DD`` text whether they arrive as ``date`` objects (PostgreSQL, fresh
rows) or as text (SQLite); everything else is already text or None. The leaf hash is RFC 6962's
``SHA-256(0x00 || data)``, written out here because it runs once per entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import orjson

__all__ = [
    "CONTENT_COLUMNS",
    "ENTRY_TYPES",
    "INQUIRY_COLUMNS",
    "OPERATION_COLUMNS",
    "entry_hash",
    "entry_hashes",
    "entry_label",
]

CONTENT_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "subjects": ("subject_id", "kind", "display_name", "identifiers", "recorded_at"),
    "records": (
        "source",
        "record_id",
        "subject_id",
        "subject_kind",
        "code",
        "occurred_at",
        "case_id",
        "attrs",
        "evidence",
        "recorded_at",
    ),
    "events": (
        "event_type",
        "source",
        "record_id",
        "effective_on",
        "actor",
        "reason",
        "attrs",
        "recorded_at",
    ),
}
"""The hashed columns of each entry table of the main tree, in hashing order (position comes
first)."""

OPERATION_COLUMNS: Final = ("tbl", "row_key", "state", "recorded_at")
"""The hashed columns of an entry of the operations log (:mod:`xinyong.ledger.operations`)."""

INQUIRY_COLUMNS: Final = (
    "decision_id",
    "relying_party",
    "subject_id",
    "measure",
    "scheme_id",
    "version",
    "as_of",
    "known_at",
    "applies",
    "made_at",
    "notice_hash",
)
"""The hashed columns of an entry of the inquiry log (:mod:`xinyong.ledger.inquiry_tree`). The
last, ``notice_hash``, is left out of the hashed data when it is None (a check that sent no
adverse notice, or one logged before revision 0018), so that those entries hash as before."""

_BOOLEANS: Final[dict[str, int]] = {"inquiries": INQUIRY_COLUMNS.index("applies")}
"""The boolean column of an entry table, by index in its hashed columns: SQLite hands it back as
0 or 1, which hash as ``false`` and ``true`` (any other stored value hashes as itself, and so
fails)."""

ENTRY_TYPES: Final[dict[str, str]] = {
    "subjects": "subject",
    "records": "record",
    "events": "event",
    "operations": "operation",
    "inquiries": "inquiry",
}
_VERSION: Final = "xinyong-ledger/1"


def entry_hash(table: str, position: int, values: Sequence[object]) -> bytes:
    """The RFC 6962 leaf hash of one entry from its table, position and content columns."""
    # orjson writes a date as "YYYY-MM-DD", the same text SQLite hands back for it.
    flag = _BOOLEANS.get(table)
    if flag is not None:
        value = values[flag]
        if type(value) is int and value in (0, 1):
            values = (*values[:flag], bool(value), *values[flag + 1 :])
    if table == "inquiries" and len(values) == len(INQUIRY_COLUMNS) and values[-1] is None:
        values = values[:-1]
    data = orjson.dumps([_VERSION, ENTRY_TYPES[table], position, *values])
    return hashlib.sha256(b"\x00" + data).digest()


def entry_hashes(
    table: str, first: int, rows: Sequence[Sequence[object]], recorded_at: str
) -> list[bytes]:
    """The leaf hashes of ``rows`` of ``table`` appended at positions ``first``, ``first + 1``
    ..., each followed by ``recorded_at``: :func:`entry_hash` of each, in one loop for the
    tables of the main tree (their columns need no conversion)."""
    if table in _BOOLEANS or table == "inquiries":
        return [
            entry_hash(table, at, (*row, recorded_at)) for at, row in enumerate(rows, start=first)
        ]
    kind, dumps, sha256 = ENTRY_TYPES[table], orjson.dumps, hashlib.sha256
    return [
        sha256(b"\x00" + dumps([_VERSION, kind, at, *row, recorded_at])).digest()
        for at, row in enumerate(rows, start=first)
    ]


def entry_label(table: str, values: Sequence[object]) -> str:
    """A short human name for an entry, used in verification reports."""
    if table == "operations":
        return f"the change of {values[0]} {values[1]}"
    if table == "inquiries":
        return f"the check {values[0]} by {values[1]}"
    columns = CONTENT_COLUMNS[table]
    row = dict(zip(columns, values, strict=False))
    if table == "subjects":
        return f"subject {row['subject_id']}"
    if table == "records":
        return f"record {row['source']}/{row['record_id']} (subject {row['subject_id']})"
    source = str(row["source"])
    if source.startswith("#"):  # not a furnished record: #scheme/ID@VERSION
        return f"{row['event_type']} event on {source[1:]} {row['record_id']}"
    return f"{row['event_type']} event on record {row['source']}/{row['record_id']}"
