"""Checking a credit report offline (:mod:`xinyong.application.credit_report`): no database,
no network, only the ledger's verifier key.

A report passes when:

1. its statement is signed by the key and names the SHA-256 of the payload exactly;
2. the payload's checkpoint is signed by the key, and is the one the statement names;
3. every entry hashes (from its table, position and columns) to its leaf hash, and its
   inclusion proof leads to the checkpoint's root (RFC 9162 2.1.3.2);
4. what the report shows agrees with the entries: the subject's name and identifiers with their
   newest registration; every record shown (ratings aside, see the builder) with its entry, and
   its events with the events entries on it, none missing and none added;
5. every check shown carries a receipt signed by the key that states the same decision about the
   same subject, and, in a report with the inquiry log's checkpoint (signed by the same key
   under the log's origin), its entry in that log: the columns hash to its leaf hash, the
   inclusion proof leads to that checkpoint's root, and they state the same check.

Each failure raises :class:`ReportInvalid` naming the first thing found wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from xinyong.application.credit_report import REPORT_FORMAT, REPORT_HEADER
from xinyong.decisions.receipts import open_receipt
from xinyong.domain.peer_records import RATING
from xinyong.ledger.entries import CONTENT_COLUMNS, INQUIRY_COLUMNS, entry_hash
from xinyong.ledger.merkle import verify_inclusion
from xinyong.ledger.signing import NoteVerifier, parse_checkpoint
from xinyong.ledger.trees import INQUIRIES

__all__ = ["CheckedReport", "ReportInvalid", "check_report"]

_RECORD_FIELDS = {
    "about": "subject_id",
    "code": "code",
    "occurred_at": "occurred_at",
    "source": "source",
    "evidence": "evidence",
    "recorded_at": "recorded_at",
}
"""A shown record's fields and the entry columns they must equal."""
_CHECK_FIELDS = ("decision_id", "relying_party", "measure", "applies", "scheme")


class ReportInvalid(ValueError):
    """The report does not verify (what is wrong, in one sentence)."""


@dataclass(frozen=True, slots=True)
class CheckedReport:
    """What a verified report states."""

    kind: str
    subject: str
    as_of: str
    size: int
    root: str
    entries: int
    records: int
    checks: int
    withheld: int
    """Records shown without their entries (ratings, whose entries name the rater)."""


def check_report(payload_text: str, statement: str, verifier: NoteVerifier) -> CheckedReport:
    """Check a report's payload and statement against ``verifier``'s key."""
    stated = _statement(statement, verifier)
    digest = "sha256:" + hashlib.sha256(payload_text.encode()).hexdigest()
    if stated.get("digest") != digest:
        raise ReportInvalid("the report's data is not the data its statement signs")
    try:
        payload = orjson.loads(payload_text)
    except orjson.JSONDecodeError:
        raise ReportInvalid("the report's data is not JSON") from None
    if not isinstance(payload, dict) or payload.get("format") != REPORT_FORMAT:
        raise ReportInvalid(f"the report's data is not {REPORT_FORMAT}")
    for field in ("kind", "as_of"):
        if payload.get(field) != stated.get(field):
            raise ReportInvalid(f"the data's {field} is not the statement's")
    subject = payload.get("subject_id")
    if subject != stated.get("subject") or not isinstance(subject, str):
        raise ReportInvalid("the data's subject is not the statement's")
    size, root = _checkpoint(payload, stated, verifier)
    entries = _entries(payload, size, root)
    if payload["kind"] == "subject":
        file = _object(payload.get("file"), "file")
        shown, identity = _list(file.get("records"), "records"), file.get("subject")
        logged = _inquiry_checkpoint(payload, verifier)
        checks = _checks(_list(file.get("checks"), "checks"), subject, verifier, logged)
    elif payload["kind"] == "organization":
        shown, identity = _list(payload.get("records"), "records"), payload.get("organization")
        checks = 0
    else:
        raise ReportInvalid(f"unknown report kind {payload['kind']!r}")
    _identity(identity, subject, entries)
    withheld = _records(shown, entries, subject, organization=payload["kind"] == "organization")
    return CheckedReport(
        kind=str(payload["kind"]),
        subject=subject,
        as_of=str(payload["as_of"]),
        size=size,
        root=root.hex(),
        entries=len(entries),
        records=len(shown),
        checks=checks,
        withheld=withheld,
    )


def _statement(statement: str, verifier: NoteVerifier) -> dict[str, Any]:
    try:
        text = verifier.open(statement)
    except ValueError as exc:
        raise ReportInvalid(f"the report's statement: {exc}") from None
    header, _, rest = text.partition("\n")
    lines = rest.split("\n")
    if header != REPORT_HEADER or len(lines) != 2 or lines[1]:
        raise ReportInvalid(f"the statement is not {REPORT_HEADER} and one line of JSON")
    try:
        return _object(orjson.loads(lines[0]), "statement")
    except orjson.JSONDecodeError:
        raise ReportInvalid("the statement is not JSON") from None


def _checkpoint(
    payload: dict[str, Any], stated: dict[str, Any], verifier: NoteVerifier
) -> tuple[int, bytes]:
    note = payload.get("checkpoint")
    try:
        point = parse_checkpoint(verifier.open(note if isinstance(note, str) else ""))
    except ValueError as exc:
        raise ReportInvalid(f"the report's checkpoint: {exc}") from None
    if point.origin != verifier.name:
        raise ReportInvalid("the checkpoint's origin is not the key's name")
    if stated.get("checkpoint") != {"size": point.size, "root": point.root.hex()}:
        raise ReportInvalid("the checkpoint is not the one the statement names")
    return point.size, point.root


def _entries(payload: dict[str, Any], size: int, root: bytes) -> dict[int, tuple[str, list[Any]]]:
    """The report's entries by position, each proven included in the checkpoint's tree."""
    found: dict[int, tuple[str, list[Any]]] = {}
    for i, raw in enumerate(_list(payload.get("entries"), "entries")):
        e = _object(raw, f"entry {i}")
        table, position, values = e.get("table"), e.get("position"), e.get("values")
        if table not in CONTENT_COLUMNS or not isinstance(values, list):
            raise ReportInvalid(f"entry {i} names no entry table and columns")
        if type(position) is not int or position in found:
            raise ReportInvalid(f"entry {i} has no position of its own")
        if len(values) != len(CONTENT_COLUMNS[table]):
            raise ReportInvalid(f"entry {position} has the wrong number of columns")
        leaf = entry_hash(table, position, values)
        if e.get("leaf_hash") != leaf.hex():
            raise ReportInvalid(f"entry {position} does not hash to its leaf hash")
        try:
            proof = [bytes.fromhex(str(node)) for node in _list(e.get("proof"), "proof")]
        except ValueError:
            raise ReportInvalid(f"entry {position}'s proof is not hex") from None
        if not verify_inclusion(leaf, position, size, proof, root):
            raise ReportInvalid(f"entry {position} is not in the checkpoint's tree of {size}")
        found[position] = (str(table), values)
    return found


def _identity(identity: object, subject: str, entries: dict[int, tuple[str, list[Any]]]) -> None:
    """The subject shown is their newest registration entry."""
    columns = CONTENT_COLUMNS["subjects"]
    registered = [
        dict(zip(columns, values, strict=True))
        for _, (table, values) in sorted(entries.items())
        if table == "subjects"
    ]
    if any(r["subject_id"] != subject for r in registered):
        raise ReportInvalid("a registration entry is about someone else")
    if identity is None:
        if registered:
            raise ReportInvalid("the subject is registered but shown as unknown")
        return
    who = _object(identity, "subject")
    if not registered:
        raise ReportInvalid("the subject is shown without their registration entry")
    newest = registered[-1]
    if who.get("id") != subject or who.get("kind") != newest["kind"]:
        raise ReportInvalid("the subject shown is not the one registered")
    if who.get("name") != newest["display_name"]:
        raise ReportInvalid("the name shown is not the registered name")
    if "identifiers" in who and who["identifiers"] != orjson.loads(str(newest["identifiers"])):
        raise ReportInvalid("the identifiers shown are not the registered ones")


def _records(
    shown: list[Any], entries: dict[int, tuple[str, list[Any]]], subject: str, *, organization: bool
) -> int:
    """Check every shown record and its events against the entries; the number withheld.

    Each record is shown once. An organisation's public report shows only the organisation's own
    records, and no ratings; a subject's report may show a rating received without its entry
    (see the builder), about the subject, with no case."""
    by_key: dict[str, dict[str, Any]] = {}
    lifecycle: dict[str, list[tuple[Any, ...]]] = {}
    for table, values in entries.values():
        row = dict(zip(CONTENT_COLUMNS[table], values, strict=True))
        if table == "records":
            by_key[f"{row['source']}/{row['record_id']}"] = row
        elif table == "events":
            key = f"{row['source']}/{row['record_id']}"
            lifecycle.setdefault(key, []).append(
                (row["event_type"], row["effective_on"], row["reason"], row["recorded_at"])
            )
    withheld = 0
    seen: set[str] = set()
    for raw in shown:
        r = _object(raw, "record")
        key = str(r.get("record"))
        if key in seen:
            raise ReportInvalid(f"record {key} is shown twice")
        seen.add(key)
        if organization and r.get("about") != subject:
            raise ReportInvalid(f"record {key} is not about the organisation")
        if r.get("code") == RATING and key not in by_key:
            _withheld(r, key, subject, organization=organization)
            withheld += 1
            continue
        entry = by_key.get(key)
        if entry is None:
            raise ReportInvalid(f"record {key} is shown without its entry")
        _record(r, key, entry, lifecycle.get(key, []))
    return withheld


def _withheld(r: dict[str, Any], key: str, subject: str, *, organization: bool) -> None:
    """A rating shown without its entry: only in a subject's report, about the subject."""
    rated = r.get("about") == subject and r.get("case_id") is None
    if organization or not rated or key.split("/", 1)[0] != r.get("source"):
        raise ReportInvalid(f"record {key} is shown as a rating without its entry")


def _record(r: dict[str, Any], key: str, entry: dict[str, Any], events: list[Any]) -> None:
    """A shown record and its history agree with its entry and the event entries on it."""
    for field, column in _RECORD_FIELDS.items():
        if r.get(field) != entry[column]:
            raise ReportInvalid(f"record {key}: the {field} shown is not the entry's")
    if r.get("case_id") != entry["case_id"] or r.get("attrs") != orjson.loads(entry["attrs"]):
        raise ReportInvalid(f"record {key}: the details shown are not the entry's")
    shown = [
        (e.get("event"), e.get("effective_on"), e.get("reason"), e.get("recorded_at"))
        for e in (_object(x, "event") for x in _list(r.get("events"), "events"))
    ]
    if sorted(map(repr, shown)) != sorted(map(repr, events)):
        raise ReportInvalid(f"record {key}: the events shown are not the entries on it")


def _inquiry_checkpoint(
    payload: dict[str, Any], verifier: NoteVerifier
) -> tuple[int, bytes] | None:
    """The inquiry log's checkpoint (size and root), signed by the key under the log's origin;
    None in a report made before the log was a tree."""
    note = payload.get("inquiry_checkpoint")
    if note is None:
        return None
    logged = verifier.renamed(verifier.name + INQUIRIES.suffix)
    try:
        point = parse_checkpoint(logged.open(note if isinstance(note, str) else ""))
    except ValueError as exc:
        raise ReportInvalid(f"the inquiry log's checkpoint: {exc}") from None
    if point.origin != logged.name:
        raise ReportInvalid("the inquiry log's checkpoint is not the log's")
    return point.size, point.root


def _inquiry(c: dict[str, Any], subject: str, logged: tuple[int, bytes]) -> None:
    """The check's entry in the inquiry log: proven in its tree, and the same check."""
    name = c.get("decision_id")
    e = _object(c.get("inquiry"), f"check {name}'s entry in the inquiry log")
    position, values = e.get("position"), e.get("values")
    if type(position) is not int or not isinstance(values, list):
        raise ReportInvalid(f"check {name}'s entry has no position and columns")
    if len(values) == len(INQUIRY_COLUMNS) - 1:  # a report made before the notice's hash
        values = [*values, None]
    if len(values) != len(INQUIRY_COLUMNS):
        raise ReportInvalid(f"check {name}'s entry has the wrong number of columns")
    leaf = entry_hash("inquiries", position, values)
    if e.get("leaf_hash") != leaf.hex():
        raise ReportInvalid(f"check {name}'s entry does not hash to its leaf hash")
    try:
        proof = [bytes.fromhex(str(node)) for node in _list(e.get("proof"), "proof")]
    except ValueError:
        raise ReportInvalid(f"check {name}'s proof is not hex") from None
    size, root = logged
    if not verify_inclusion(leaf, position, size, proof, root):
        raise ReportInvalid(f"check {name} is not in the inquiry log's tree of {size}")
    row = dict(zip(INQUIRY_COLUMNS, values, strict=True))
    stated = {**{f: c.get(f) for f in _CHECK_FIELDS}, "made_at": c.get("made_at")}
    entered = {
        "decision_id": row["decision_id"],
        "relying_party": row["relying_party"],
        "measure": row["measure"],
        "applies": row["applies"] in (True, 1),
        "scheme": row["scheme_id"],
        "made_at": row["made_at"],
    }
    if stated != entered or row["subject_id"] != subject:
        raise ReportInvalid(f"check {name} is not the check its entry logs")


def _checks(
    checks: list[Any], subject: str, verifier: NoteVerifier, logged: tuple[int, bytes] | None
) -> int:
    """Every check shown carries a receipt, signed by the key, of the same decision, once; and,
    with the inquiry log's checkpoint, its entry proven in that log."""
    seen: set[object] = set()
    for raw in checks:
        c = _object(raw, "check")
        if c.get("decision_id") in seen:
            raise ReportInvalid(f"check {c.get('decision_id')} is shown twice")
        seen.add(c.get("decision_id"))
        note = c.get("receipt")
        try:
            decision = open_receipt(note if isinstance(note, str) else "", verifier)
        except ValueError as exc:
            raise ReportInvalid(f"check {c.get('decision_id')}'s receipt: {exc}") from None
        if decision.get("subject") != subject:
            raise ReportInvalid(f"check {c.get('decision_id')}'s receipt is about someone else")
        for field in _CHECK_FIELDS:
            if c.get(field) != decision.get(field):
                raise ReportInvalid(f"check {c.get('decision_id')}: {field} is not the receipt's")
        if logged is not None:
            _inquiry(c, subject, logged)
    return len(checks)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportInvalid(f"the report's {what} is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ReportInvalid(f"the report's {what} is not a list")
    return value
