"""Loading subjects (names and identifiers) in bulk: ``xinyong subjects load FILE``.

Columns: ``subject_id``, ``kind`` and optionally ``display_name``, ``identifiers`` (a JSON
object such as ``{"resident_id": "..."}``), ``resident_id`` and ``uscc``. Every identifier must
pass its check digit. Blank fields keep what the newest version says. A subject whose newest
version already says the same is skipped; a changed name or identifier appends a new version
(the ledger is append-only); a subject registered with another kind is rejected. Other columns
(for example synthetic group labels) are ignored and named in the report.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, select

from xinyong.domain.identifiers import (
    IdentifierRefused,
    canonical_subject_id,
    resident_id_problem,
    uscc_problem,
)
from xinyong.domain.json_text import JsonRefused, parse_json
from xinyong.domain.records import SUBJECT_KINDS
from xinyong.domain.row_problem import RowProblem
from xinyong.ingest.readers import BadLine, read_batches
from xinyong.ingest.rejects import Reject, write_rejects
from xinyong.ingest.validate import check_subject_id
from xinyong.ledger.append import Batch, SubjectRow, TreeHead, append_batch
from xinyong.ledger.database import WRITE_LOCK, after_bulk_load
from xinyong.ledger.schema import subjects

__all__ = ["SUBJECT_COLUMNS", "SubjectsReport", "load_subjects", "validate_subject"]

SUBJECT_COLUMNS = ("subject_id", "kind", "display_name", "identifiers", "resident_id", "uscc")
_IDENTIFIER_CHECKS = {"resident_id": resident_id_problem, "uscc": uscc_problem}


@dataclass(slots=True)
class SubjectsReport:
    """What a subjects load did."""

    path: Path
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    ignored_columns: tuple[str, ...] = ()
    seconds: float = 0.0
    head: TreeHead | None = None
    rejects_file: Path | None = None
    rejects: list[Reject] = field(default_factory=list)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_subject(raw: Mapping[str, Any]) -> SubjectRow | RowProblem:
    """Validate one subject row into a subject entry (id, kind, name, identifiers JSON)."""
    subject_id = raw.get("subject_id")
    if _blank(subject_id):
        return RowProblem("subject_id", "missing")
    kind = raw.get("kind")
    if _blank(kind):
        return RowProblem("kind", "missing")
    if kind not in SUBJECT_KINDS:
        return RowProblem("kind", f"unknown subject kind {kind!r}: use person or organization")
    checked = check_subject_id(subject_id, str(kind))
    if isinstance(checked, RowProblem):
        return checked
    identifiers = _identifiers(raw, str(kind))
    if isinstance(identifiers, RowProblem):
        return identifiers
    given_name = raw.get("display_name")
    display = None if _blank(given_name) else str(given_name).strip()
    if display is not None and len(display) > 300:
        return RowProblem("display_name", "longer than 300 characters")
    return (
        checked,
        str(kind),
        display,
        orjson.dumps(identifiers, option=orjson.OPT_SORT_KEYS).decode(),
    )


def _identifiers(raw: Mapping[str, Any], kind: str) -> dict[str, Any] | RowProblem:
    """The subject's identifiers (``identifiers`` JSON and the ``resident_id`` and ``uscc``
    columns) in canonical form, each checked, and fitting the subject's kind."""
    identifiers = _given_identifiers(raw)
    if isinstance(identifiers, RowProblem):
        return identifiers
    for name, value in list(identifiers.items()):
        checked = _identifier(raw, name, value)
        if isinstance(checked, RowProblem):
            return checked
        identifiers[name] = checked
    if "resident_id" in identifiers and kind != "person":
        return RowProblem("resident_id", "only persons have a resident ID")
    if "uscc" in identifiers and kind != "organization":
        return RowProblem("uscc", "only organizations have a Unified Social Credit Code")
    return identifiers


def _given_identifiers(raw: Mapping[str, Any]) -> dict[str, Any] | RowProblem:
    """The ``identifiers`` object, with the ``resident_id`` and ``uscc`` columns over it."""
    identifiers: dict[str, Any] = {}
    raw_ids = raw.get("identifiers")
    if not _blank(raw_ids):
        if isinstance(raw_ids, str):
            try:
                raw_ids = parse_json(raw_ids)
            except JsonRefused as exc:
                return RowProblem("identifiers", f"bad JSON: {exc}")
        if not isinstance(raw_ids, dict):
            return RowProblem("identifiers", "must be a JSON object of name: value")
        identifiers.update(raw_ids)
    for name in ("resident_id", "uscc"):
        if not _blank(raw.get(name)):
            identifiers[name] = raw[name]
    return identifiers


def _identifier(raw: Mapping[str, Any], name: str, value: Any) -> str | RowProblem:
    """One identifier checked: a resident ID or USCC in canonical form, any other as given."""
    if not isinstance(value, str) or not value.strip():
        return RowProblem(f"identifiers.{name}", "must be non-empty text")
    check = _IDENTIFIER_CHECKS.get(name)
    if check is None:
        return value
    where = name if name in raw else f"identifiers.{name}"
    try:
        canonical = canonical_subject_id(value)
    except IdentifierRefused as exc:
        return RowProblem(where, exc.reason)
    problem = check(canonical)
    return RowProblem(where, problem) if problem else canonical


def _current(conn: Connection, ids: Sequence[str]) -> dict[str, SubjectRow]:
    """The newest version of each subject in ``ids``."""
    found: dict[str, SubjectRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        newest = (
            select(func.max(subjects.c.position))
            .where(subjects.c.subject_id.in_(chunk))
            .group_by(subjects.c.subject_id)
        )
        query = select(
            subjects.c.subject_id,
            subjects.c.kind,
            subjects.c.display_name,
            subjects.c.identifiers,
        ).where(subjects.c.position.in_(newest))
        for row in conn.execute(query):
            found[str(row.subject_id)] = tuple(row)
    return found


def _merge(old: SubjectRow, new: SubjectRow) -> SubjectRow:
    """A new version keeps what the row leaves out: the old name, the other identifiers."""
    identifiers = {**orjson.loads(old[3]), **orjson.loads(new[3])}
    return (
        new[0],
        new[1],
        new[2] if new[2] is not None else old[2],
        orjson.dumps(identifiers, option=orjson.OPT_SORT_KEYS).decode(),
    )


def load_subjects(engine: Engine, path: Path, batch_size: int = 50_000) -> SubjectsReport:
    """Load a subjects file into the ledger, appending new subjects and changed versions."""
    report = SubjectsReport(path)
    started = time.perf_counter()
    ignored: set[str] = set()
    for raw_batch in read_batches(path, ("subject_id", "kind"), batch_size):
        rows: dict[str, tuple[int, SubjectRow]] = {}
        for item in raw_batch:
            report.rows += 1
            if isinstance(item, BadLine):
                report.rejects.append(Reject.of(item.line, item.field, item.reason, item.text))
                continue
            ignored.update(k for k in item.values if k not in SUBJECT_COLUMNS)
            row = validate_subject(item.values)
            if isinstance(row, RowProblem):
                report.rejects.append(Reject.of(item.line, row.field, row.reason, item.values))
            else:
                rows[row[0]] = (item.line, row)  # a later row for the same subject wins
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            current = _current(conn, sorted(rows))
            batch = Batch()
            for subject_id, (line, given) in rows.items():
                old = current.get(subject_id)
                row = given
                if old is None:
                    report.added += 1
                elif old[1] != row[1]:
                    report.rejects.append(
                        Reject.of(
                            line,
                            "kind",
                            f"subject {subject_id!r} is registered as {old[1]}, not {row[1]}",
                            dict(zip(SUBJECT_COLUMNS, row, strict=False)),
                        )
                    )
                    continue
                else:
                    row = _merge(old, row)
                    if old == row:
                        report.unchanged += 1
                        continue
                    report.updated += 1
                batch.subjects.append(row)
            if len(batch):
                report.head = append_batch(conn, batch, f"subjects load {path.name}")
    report.ignored_columns = tuple(sorted(ignored))
    report.rejected = len(report.rejects)
    report.rejects_file = write_rejects(path, report.rejects)
    after_bulk_load(engine, report.added + report.updated)
    report.seconds = time.perf_counter() - started
    return report
