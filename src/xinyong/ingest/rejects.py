"""The quarantine file: rejected rows with line number, field and reason.

``FILE.rejects.csv`` holds the raw rows, which a person opens in a spreadsheet: a value that a
spreadsheet would run as a formula is written as text (:func:`spreadsheet_safe`). It is written
once, at the end, through a temporary file renamed into place,
so a killed ingest never leaves a half-written quarantine behind. A run with no rejects removes a
stale quarantine file from an earlier run of the same input.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ["FORMULA_STARTS", "Reject", "rejects_path", "spreadsheet_safe", "write_rejects"]


@dataclass(frozen=True, slots=True)
class Reject:
    """One quarantined row."""

    line: int
    field: str
    reason: str
    row: str

    @classmethod
    def of(cls, line: int, field: str, reason: str, values: Mapping[str, Any] | str) -> Reject:
        """Build a reject, serialising the raw row values as JSON text."""
        if isinstance(values, str):
            return cls(line, field, reason, values)
        try:
            text = orjson.dumps(dict(values), default=str).decode()
        except TypeError:  # e.g. an integer beyond 64 bits: plain json takes anything
            text = json.dumps(dict(values), default=str, ensure_ascii=False)
        return cls(line, field, reason, text)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, "CSV injection")."""


def spreadsheet_safe(text: str) -> str:
    """``text`` as a cell no spreadsheet runs: one that would start a formula gets a leading
    apostrophe, which spreadsheets show as text and hide."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def rejects_path(path: Path) -> Path:
    """Where the rejects of ``path`` go: ``FILE.rejects.csv`` beside it."""
    return path.with_name(path.name + ".rejects.csv")


def write_rejects(path: Path, rejects: Sequence[Reject]) -> Path | None:
    """Write (or clear) the quarantine file for input ``path``; return its path if written."""
    target = rejects_path(path)
    if not rejects:
        target.unlink(missing_ok=True)
        return None
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "field", "reason", "row"])
            for reject in sorted(rejects, key=lambda r: r.line):
                cells = (reject.field, reject.reason, reject.row)
                writer.writerow([reject.line, *(spreadsheet_safe(cell) for cell in cells)])
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
