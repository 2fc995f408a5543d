"""Credit reports that prove themselves: a subject's own file, or an organisation's public
record, with the ledger's signed checkpoint and an inclusion proof for every entry shown.

A report is a JSON payload and a signed statement of it:

- the **payload** holds what the report shows (for a subject, their whole file as
  :func:`~xinyong.application.subject_file.subject_file` gives it, checks with their signed
  receipts; for an organisation, its public records, commitments and list entries), the signed
  checkpoint, and the **entries** it rests on: each ledger entry's table, position and hashed
  columns with its RFC 9162 inclusion proof in the checkpoint's tree;
- the **statement** is a C2SP signed note by the ledger's key, ``xinyong-report/v1`` and a line
  of JSON naming the kind, subject, date, checkpoint and the SHA-256 of the payload text.

:mod:`xinyong.application.report_check` checks one offline with the verifier key alone. What
each part proves (and what it does not) is in docs/verify.md, "Credit reports".

Ratings the subject received are shown without their entries: an entry names its rater, whom
the subject sees by pseudonym only, and a leaf hash would confirm a guessed rater.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import ColumnElement, Connection, select, tuple_

from xinyong.application.context import Context
from xinyong.application.proving import proof_slot
from xinyong.application.subject_file import subject_file
from xinyong.decisions.notices import sent_notices
from xinyong.decisions.replay import decision_overrides, decisions_about
from xinyong.domain.chunks import chunked
from xinyong.domain.identifiers import IdentifierRefused, canonical_subject_id
from xinyong.domain.peer_records import RATING
from xinyong.domain.refusals import NotAllowed, NotFound
from xinyong.due_process.disclosure import public_entries
from xinyong.due_process.masking import MaskingPolicy
from xinyong.ledger.append import read_head
from xinyong.ledger.entries import CONTENT_COLUMNS, INQUIRY_COLUMNS
from xinyong.ledger.proofs import prove_inclusion
from xinyong.ledger.schema import events, inquiries, records, subjects
from xinyong.ledger.signed_head import signed_checkpoint
from xinyong.ledger.signing import LedgerKey
from xinyong.ledger.trees import INQUIRIES

__all__ = [
    "RENDERER",
    "REPORT_FORMAT",
    "REPORT_HEADER",
    "NoSuchSubject",
    "SealedReport",
    "organization_report",
    "payload_text",
    "subject_report",
]

REPORT_FORMAT: Final = "xinyong-report/v1"
REPORT_HEADER: Final = REPORT_FORMAT
"""The first line of a report's signed statement."""
RENDERER: Final = 1
"""The version of the page a report is rendered as (:mod:`xinyong.documents.credit_report`):
a verifier compares the page with its own rendering of the payload, so it must render the
same version."""
_PUBLIC_STATUSES: Final = ("in force", "counting", "disputed")
"""A public record is shown while it stands: not once revoked, corrected, suppressed,
repaired or past its display period."""


class NoSuchSubject(NotFound):
    """The ledger holds nothing about that subject (or no organisation by that id)."""

    def __init__(self, subject_id: str, what: str = "subject") -> None:
        super().__init__(f"the ledger holds no {what} {subject_id}")


def _canonical(given: str, kind: str | None = None) -> str:
    """The canonical id, or a refusal naming why ``given`` is not one."""
    try:
        return canonical_subject_id(given, kind)
    except IdentifierRefused as exc:
        raise NotAllowed(f"not an identifier: {exc}") from None


@dataclass(frozen=True, slots=True)
class SealedReport:
    """A report's payload (canonical JSON text) and its signed statement."""

    payload: str
    statement: str
    kind: str
    subject: str
    as_of: date


def payload_text(payload: dict[str, Any]) -> str:
    """The canonical text of a payload: JSON with sorted keys, and ``<``, ``>`` and ``&``
    written as escapes so that the text can sit in an HTML ``<script>`` element unchanged."""
    text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def subject_report(conn: Connection, ctx: Context, subject_id: str) -> SealedReport:
    """The subject's whole file, with receipts for the checks made on them and proofs for the
    entries it shows (``NotAllowed`` for a malformed id, :class:`NoSuchSubject`)."""
    subject_id = _canonical(subject_id)
    key = ctx.ledger_key()
    file = subject_file(conn, ctx, subject_id)
    if file["subject"] is None and not file["records"]:
        raise NoSuchSubject(subject_id)
    overrides: dict[tuple[str, str], tuple[dict[str, str], ...]] = {}
    receipts = {}
    adverse = sent_notices(conn, subject_id)
    for d in decisions_about(conn, subject_id):
        found = overrides.get((d.scheme_id, d.version))
        if found is None:  # read once per scheme version, not once per check
            found = overrides[d.scheme_id, d.version] = decision_overrides(conn, d)
        notice = adverse.get(d.decision_id)
        receipts[d.decision_id] = ctx.receipts.make(key, d, found, conn, notice)
    for check in file["checks"]:
        check["receipt"] = receipts.get(check["decision_id"])
    shown = [r for r in file["records"] if r["code"] != RATING]
    payload = {"kind": "subject", "subject_id": subject_id, "file": file}
    return _seal(conn, ctx, key, payload, subject_id, shown, file["checks"])


def organization_report(conn: Connection, ctx: Context, given: str) -> SealedReport:
    """An organisation's public credit report: its records that the law publishes (the
    catalog's ``publicity``) once their notice period is over and while they stand, and its
    entries on public lists. Nothing private: no checks, notices, requests or standings."""
    org_id = _canonical(given, "organization")
    file = subject_file(conn, ctx, org_id)
    who = file["subject"]
    if who is None or who["kind"] != "organization":
        raise NoSuchSubject(org_id, "organization")
    today = ctx.today()
    published = today - timedelta(days=ctx.settings.grace_days)
    public = []
    for r in file["records"]:
        entry = ctx.catalog.get(r["code"])
        if entry is None or not entry.publicity or r["about"] != org_id:
            continue
        if r["status"] not in _PUBLIC_STATUSES or r["recorded_at"][:10] > published.isoformat():
            continue
        # whether an objection is open is the organisation's business, not the public's
        public.append(
            {**r, "status": "in force", "publicity": entry.publicity, "repair_from": None}
        )
    payload = {
        "kind": "organization",
        "subject_id": org_id,
        "organization": {"id": org_id, "name": who["name"], "kind": who["kind"]},
        "as_of": file["as_of"],
        "records": public,
        "lists": _public_lists(conn, ctx, org_id, today),
        "grace_days": ctx.settings.grace_days,
    }
    return _seal(conn, ctx, ctx.ledger_key(), payload, org_id, public)


def _public_lists(conn: Connection, ctx: Context, org_id: str, today: date) -> list[dict[str, Any]]:
    """The organisation's entries on public lists, as the lists show them."""
    found = []
    policy = MaskingPolicy()
    for loaded in ctx.registry.active(conn):
        for spec in loaded.scheme.lists:
            _, entries = public_entries(
                conn, loaded, spec.id, today, policy=policy, subject_id=org_id, limit=1000
            )
            found += [
                {
                    "scheme": loaded.scheme.id,
                    "list": spec.id,
                    "kind": spec.kind,
                    "entry": e.entry_id,
                    "listed_on": e.listed_on.isoformat(),
                    "public_from": e.public_from.isoformat(),
                }
                for e in entries
            ]
    return found


def _seal(
    conn: Connection,
    ctx: Context,
    key: LedgerKey,
    payload: dict[str, Any],
    subject_id: str,
    shown: list[dict[str, Any]],
    checks: list[dict[str, Any]] | None = None,
) -> SealedReport:
    """Add the checkpoint and the proven entries to ``payload`` and sign it; with ``checks``
    (a subject's), each check's entry in the inquiry log and that log's checkpoint too."""
    head = read_head(conn)  # read after the file: it covers every entry the file shows
    entries = _entries(conn, subject_id, shown)
    if any(e["position"] >= head.size for e in entries):
        raise RuntimeError("the ledger grew between reading the report and its checkpoint")
    logged = read_head(conn, INQUIRIES.heads)  # covers every check the file shows
    with proof_slot():
        for e in entries:
            proof = prove_inclusion(conn, e["position"], head.size)
            e["leaf_hash"], e["proof"] = proof["leaf_hash"], proof["proof"]
        if checks is not None:
            _prove_checks(conn, checks, logged.size)
    if checks is not None:
        payload = {
            **payload,
            "inquiry_checkpoint": signed_checkpoint(conn, key, logged.size, tree=INQUIRIES),
        }
    as_of = ctx.today()
    payload = {
        **payload,
        "format": REPORT_FORMAT,
        "renderer": RENDERER,
        "as_of": as_of.isoformat(),
        "checkpoint": signed_checkpoint(conn, key, head.size),
        "entries": entries,
    }
    text = payload_text(payload)
    statement = {
        "kind": payload["kind"],
        "subject": subject_id,
        "as_of": as_of.isoformat(),
        "checkpoint": {"size": head.size, "root": head.root.hex()},
        "digest": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
    }
    line = orjson.dumps(statement, option=orjson.OPT_SORT_KEYS).decode()
    note = key.sign(f"{REPORT_HEADER}\n{line}\n")
    return SealedReport(text, note, str(payload["kind"]), subject_id, as_of)


def _prove_checks(conn: Connection, checks: list[dict[str, Any]], size: int) -> None:
    """Give each check its entry in the inquiry log (hashed columns, leaf hash, inclusion proof
    in the tree of ``size`` checks)."""
    positions = [c["entry"] for c in checks if c.get("entry") is not None]
    columns = [inquiries.c[name] for name in INQUIRY_COLUMNS]
    values = {}
    for part in chunked(positions):
        query = select(inquiries.c.position, *columns).where(inquiries.c.position.in_(part))
        for row in conn.execute(query):
            values[int(row[0])] = [v.isoformat() if isinstance(v, date) else v for v in row[1:]]
    for check in checks:
        position = check.get("entry")
        if position is None or position >= size or position not in values:
            continue
        proof = prove_inclusion(conn, position, size, INQUIRIES)
        check["inquiry"] = {
            "position": position,
            "values": values[position],
            "leaf_hash": proof["leaf_hash"],
            "proof": proof["proof"],
        }


def _entries(
    conn: Connection, subject_id: str, shown: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The ledger entries behind the report: the subject's registrations, the records shown and
    the events on them, each with its hashed columns, in log order."""
    keys = [tuple(r["record"].split("/", 1)) for r in shown]  # a source name has no "/"
    found = _rows(conn, "subjects", [subjects.c.subject_id == subject_id])
    for part in chunked(keys):
        found += _rows(conn, "records", [tuple_(records.c.source, records.c.record_id).in_(part)])
        found += _rows(conn, "events", [tuple_(events.c.source, events.c.record_id).in_(part)])
    return sorted(found, key=lambda e: int(e["position"]))


def _rows(conn: Connection, table: str, where: list[ColumnElement[bool]]) -> list[dict[str, Any]]:
    source = {"subjects": subjects, "records": records, "events": events}[table]
    columns = [source.c[name] for name in CONTENT_COLUMNS[table]]
    return [
        {
            "table": table,
            "position": int(row[0]),
            "values": [v.isoformat() if isinstance(v, date) else v for v in row[1:]],
        }
        for row in conn.execute(select(source.c.position, *columns).where(*where))
    ]
