"""Objections: a subject disputes a record; an operator upholds or rejects it by a deadline.

- Filing marks the record *disputed* in the subject's file (it still counts meanwhile, as the
  court list is not stayed by an objection).
- Upholding appends a ``revoked`` event: the record never counts again, at any valid time.
- Rejecting needs a written reason, shown to the subject.
- An objection still open after its deadline *lapses*: by default a ``suppressed`` event voids
  the record (the FCRA deletes what cannot be verified in time); ``suppress_on_lapse=False``
  keeps it counting and only records the lapse.

The deadline is the shortest that applies to the record: the service's (30 days by default, FCRA
§1681i, or a particular source's), and that of every active scheme with a rule matching the
record's code that sets ``objection_days`` (the court list: 15 days, SPC 2013 Art. 11).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, select

from xinyong.domain.refusals import NotAllowed
from xinyong.domain.relations import in_file
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.queues import by_deadline
from xinyong.due_process.record_requests import OBJECTIONS, Counted, close_request, open_request
from xinyong.due_process.revocation import void_record
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.effective import EventType
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import objections, records
from xinyong.schemes.load import LoadedScheme

__all__ = [
    "Objection",
    "decide_objection",
    "file_objection",
    "get_objection",
    "lapse_overdue",
    "list_objections",
    "objection_days",
]


@dataclass(frozen=True, slots=True)
class Objection:
    """An objection and its state."""

    objection_id: str
    subject_id: str
    source: str
    record_id: str
    reason: str
    evidence: str | None
    status: str
    filed_at: str
    deadline: date
    decided_at: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    furnisher_verdict: str | None = None
    furnisher_statement: str | None = None
    furnisher_evidence: str | None = None
    answered_at: str | None = None
    added_information: str | None = None
    extended_at: str | None = None

    @property
    def key(self) -> str:
        """The record objected to, as ``source/record_id``."""
        return f"{self.source}/{self.record_id}"

    def json(self) -> dict[str, object]:
        """As served by the API."""
        return {
            "objection_id": self.objection_id,
            "subject_id": self.subject_id,
            "record": self.key,
            "reason": self.reason,
            "evidence": self.evidence,
            "status": self.status,
            "filed_at": self.filed_at,
            "deadline": self.deadline.isoformat(),
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
            "furnisher": None
            if self.answered_at is None
            else {
                "verdict": self.furnisher_verdict,
                "statement": self.furnisher_statement,
                "evidence": self.furnisher_evidence,
                "answered_at": self.answered_at,
            },
            "added_information": self.added_information,
            "extended_at": self.extended_at,
        }


def _row(row: object) -> Objection:
    return Objection(**{name: getattr(row, name) for name in Objection.__dataclass_fields__})


def objection_days(
    conn: Connection,
    active: Iterable[LoadedScheme],
    source: str,
    record_id: str,
    service_days: int,
) -> int:
    """Days to decide an objection to a record: the shortest deadline that applies to it."""
    row = conn.execute(
        select(records.c.code).where(records.c.source == source, records.c.record_id == record_id)
    ).first()
    if row is None:
        return service_days
    code = str(row.code)
    days = [
        loaded.scheme.objection_days
        for loaded in active
        if loaded.scheme.objection_days is not None
        and any(rule.matches(code) for rule in loaded.scheme.rules)
    ]
    return min([service_days, *days])


def file_objection(
    conn: Connection,
    subject_id: str,
    source: str,
    record_id: str,
    reason: str,
    evidence: str | None,
    today: date,
    deadline_days: int,
) -> Objection:
    """File an objection to one of the subject's own records; NotAllowed for a record that is
    not the subject's, no reason, or a record whose objection is still open."""
    plain_or_raise(
        NotAllowed, source=source, record_id=record_id, reason=reason, evidence=evidence or ""
    )
    if not reason.strip():
        raise NotAllowed(N_("an objection needs a reason"))
    owner = conn.execute(
        select(records.c.subject_id, records.c.code, records.c.attrs).where(
            records.c.source == source, records.c.record_id == record_id
        )
    ).first()
    if owner is None or not in_file(subject_id, owner.subject_id, owner.code, owner.attrs):
        raise NotAllowed(N_("no record %(record)s in your file"), record=f"{source}/{record_id}")
    open_one = conn.execute(
        select(objections.c.objection_id).where(
            objections.c.source == source,
            objections.c.record_id == record_id,
            objections.c.status == "open",
        )
    ).first()
    if open_one is not None:
        raise NotAllowed(
            N_("objection %(objection)s on this record is still open"),
            objection=open_one.objection_id,
        )
    objection = Objection(
        objection_id=str(uuid.uuid4()),
        subject_id=subject_id,
        source=source,
        record_id=record_id,
        reason=reason.strip(),
        evidence=evidence,
        status="open",
        filed_at=utc_now_text(),
        deadline=today + timedelta(days=deadline_days),
    )
    conn.execute(
        objections.insert().values(
            objection_id=objection.objection_id,
            subject_id=subject_id,
            source=source,
            record_id=record_id,
            reason=objection.reason,
            evidence=evidence,
            status="open",
            filed_at=objection.filed_at,
            deadline=objection.deadline,
        )
    )
    log_rows(conn, objections, objections.c.objection_id == objection.objection_id)
    return objection


def get_objection(conn: Connection, objection_id: str) -> Objection:
    """One objection by id (NotFound when there is none)."""
    return _row(OBJECTIONS.get(conn, objection_id))


def list_objections(
    conn: Connection,
    *,
    status: str | None = None,
    subject_id: str | None = None,
    source: str | None = None,
) -> list[Objection]:
    """Objections, oldest deadline first."""
    query = by_deadline(objections, status=status, subject_id=subject_id, source=source)
    return [_row(row) for row in conn.execute(query)]


def decide_objection(
    conn: Connection,
    objection_id: str,
    *,
    uphold: bool,
    reason: str,
    operator: str,
    today: date,
    active: ActiveSchemes,
) -> Objection:
    """Uphold (revoke the record) or reject an open objection. Call inside a write lock.

    The notice to the subject names the rules and scheme versions the record counted under
    before the decision, and the standing after it. NotFound for an unknown objection,
    AlreadyDecided for one decided already, NotAllowed without a written reason.
    """
    objection = _row(open_request(conn, OBJECTIONS, objection_id, reason))
    status = "upheld" if uphold else "rejected"
    before = active.record_effect(conn, objection.subject_id, objection.key, today)
    if uphold:
        void_record(
            conn,
            EventType.REVOKED,
            objection.source,
            objection.record_id,
            effective_on=today,
            actor=operator,
            reason=f"objection {objection_id} upheld: {reason}",
        )
    return _close(conn, objection, status, reason, operator, Counted(active, before), today)


def _close(
    conn: Connection,
    objection: Objection,
    status: str,
    reason: str,
    actor: str,
    counted: Counted,
    today: date,
) -> Objection:
    return _row(
        close_request(
            conn,
            OBJECTIONS,
            objection,
            status=status,
            reason=reason,
            actor=actor,
            today=today,
            details={"decided_by": actor},
            counted=counted,
        )
    )


def lapse_overdue(
    conn: Connection, today: date, active: ActiveSchemes, *, suppress: bool = True
) -> list[Objection]:
    """Close every open objection past its deadline. Call inside a write lock."""
    overdue = [
        _row(row)
        for row in conn.execute(
            select(objections).where(objections.c.status == "open", objections.c.deadline < today)
        )
    ]
    closed = []
    for objection in overdue:
        reason = f"not decided by its deadline {objection.deadline}"
        before = active.record_effect(conn, objection.subject_id, objection.key, today)
        if suppress:
            void_record(
                conn,
                EventType.SUPPRESSED,
                objection.source,
                objection.record_id,
                effective_on=today,
                actor="system",
                reason=f"objection {objection.objection_id} {reason}",
            )
            reason += ": the record is suppressed"
        counted = Counted(active, before)
        closed.append(_close(conn, objection, "lapsed", reason, "system", counted, today))
    return closed
