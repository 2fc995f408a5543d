"""Appeals: a subject whose objection or repair request was rejected may appeal, once, within
``appeal_days`` (15 by default) of the decision; another operator decides, with a written reason,
within ``review_days``.

The rule that a second person decides is enforced here, not left to the console: the operator
who made the first decision cannot decide its appeal. Operators are told apart by the name on
their key, compared without regard to case, width or spacing, and by the key itself (a decision
recorded by key id, as before names were used, is its key's); an appeal is decided only with a
named key, and operator keys are made only on the server (``xinyong keys create``), never
through the API, so that one operator cannot mint another's name.

Granting does what the first decision would have done had it gone the other way: the record is
revoked (an objection) or stops counting from today (a repair). A database constraint keeps a
decision to one appeal even when two are filed at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.exc import IntegrityError

from xinyong.decisions.notices import issue_notice
from xinyong.domain.refusals import AlreadyDecided, NotAllowed, NotFound, Word
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.deciders import Decider
from xinyong.due_process.queues import by_deadline
from xinyong.due_process.revocation import void_record
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import appeals, objections, repairs

__all__ = [
    "APPEALABLE",
    "Appeal",
    "appealable",
    "decide_appeal",
    "file_appeal",
    "get_appeal",
    "list_appeals",
]

APPEALABLE = {"objection": objections, "repair": repairs}
"""The decisions that can be appealed, by kind, and where they are kept."""


@dataclass(frozen=True, slots=True)
class Appeal:
    """An appeal and its state."""

    appeal_id: str
    subject_id: str
    target_kind: str
    target_id: str
    first_decided_by: str
    reason: str
    status: str
    filed_at: str
    deadline: date
    decided_at: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None

    def json(self) -> dict[str, object]:
        """As served by the API."""
        return {
            "appeal_id": self.appeal_id,
            "subject_id": self.subject_id,
            "appealed": {"kind": self.target_kind, "id": self.target_id},
            "first_decided_by": self.first_decided_by,
            "reason": self.reason,
            "status": self.status,
            "filed_at": self.filed_at,
            "deadline": self.deadline.isoformat(),
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
        }


def _row(row: Row[object]) -> Appeal:
    return Appeal(**{name: getattr(row, name) for name in Appeal.__dataclass_fields__})


def _target(conn: Connection, kind: str, target_id: str) -> Row[object] | None:
    table = APPEALABLE[kind]
    key = table.c.objection_id if kind == "objection" else table.c.repair_id
    return conn.execute(select(table).where(key == target_id)).first()


def file_appeal(
    conn: Connection,
    subject_id: str,
    target_kind: str,
    target_id: str,
    reason: str,
    today: date,
    appeal_days: int,
    decide_days: int,
) -> Appeal:
    """Appeal a rejected objection or repair request of one's own; NotAllowed for another's,
    one not rejected, one appealed already, after the appeal period, or without a reason."""
    plain_or_raise(NotAllowed, target_kind=target_kind, target_id=target_id, reason=reason)
    if target_kind not in APPEALABLE:
        raise NotAllowed(
            N_("an appeal is of an objection or a repair decision, not %(kind)r"), kind=target_kind
        )
    if not reason.strip():
        raise NotAllowed(N_("an appeal needs a reason: why the decision is wrong"))
    first = _target(conn, target_kind, target_id)
    if first is None or first.subject_id != subject_id:
        raise NotAllowed(N_("no %(kind)s %(id)s of yours"), kind=Word(target_kind), id=target_id)
    if first.status != "rejected":
        raise NotAllowed(
            N_("only a rejected %(kind)s can be appealed; this one is %(status)s"),
            kind=Word(target_kind),
            status=Word(first.status),
        )
    last_day = (first.decided_on or date.fromisoformat(str(first.decided_at)[:10])) + timedelta(
        days=appeal_days
    )
    if today > last_day:
        raise NotAllowed(
            N_("the %(kind)s decision could be appealed until %(day)s"),
            kind=Word(target_kind),
            day=last_day,
        )
    taken = conn.execute(
        select(appeals.c.appeal_id).where(
            appeals.c.target_kind == target_kind, appeals.c.target_id == target_id
        )
    ).first()
    if taken is not None:
        raise NotAllowed(
            N_("this decision was appealed already (appeal %(appeal)s): once only"),
            appeal=taken.appeal_id,
        )
    appeal = Appeal(
        appeal_id=str(uuid.uuid4()),
        subject_id=subject_id,
        target_kind=target_kind,
        target_id=target_id,
        first_decided_by=str(first.decided_by),
        reason=reason.strip(),
        status="open",
        filed_at=utc_now_text(),
        deadline=today + timedelta(days=decide_days),
    )
    try:
        with conn.begin_nested():
            conn.execute(
                appeals.insert().values(
                    {name: getattr(appeal, name) for name in Appeal.__dataclass_fields__}
                )
            )
    except IntegrityError as exc:  # filed twice at once: the other one is in
        raise NotAllowed(N_("this decision was appealed already: once only")) from exc
    log_rows(conn, appeals, appeals.c.appeal_id == appeal.appeal_id)
    return appeal


def appealable(
    conn: Connection, subject_id: str, today: date, appeal_days: int
) -> list[dict[str, str]]:
    """The subject's decisions that can be appealed today: rejected, not appealed yet, within
    the appeal period; each with its kind, id, record and last day."""
    appealed = {
        (str(row.target_kind), str(row.target_id))
        for row in conn.execute(
            select(appeals.c.target_kind, appeals.c.target_id).where(
                appeals.c.subject_id == subject_id
            )
        )
    }
    found = []
    for kind, table in APPEALABLE.items():
        key = table.c.objection_id if kind == "objection" else table.c.repair_id
        for row in conn.execute(
            select(
                key.label("id"),
                table.c.source,
                table.c.record_id,
                table.c.decided_on,
                table.c.decided_at,
            ).where(table.c.subject_id == subject_id, table.c.status == "rejected")
        ):
            decided_on = row.decided_on or date.fromisoformat(str(row.decided_at)[:10])
            until = decided_on + timedelta(days=appeal_days)
            if today <= until and (kind, str(row.id)) not in appealed:
                found.append(
                    {
                        "kind": kind,
                        "id": str(row.id),
                        "record": f"{row.source}/{row.record_id}",
                        "until": until.isoformat(),
                    }
                )
    return found


def get_appeal(conn: Connection, appeal_id: str) -> Appeal:
    """One appeal by id (NotFound when there is none)."""
    plain_or_raise(NotFound, appeal_id=appeal_id)
    row = conn.execute(select(appeals).where(appeals.c.appeal_id == appeal_id)).first()
    if row is None:
        raise NotFound(f"no appeal {appeal_id}")
    return _row(row)


def list_appeals(
    conn: Connection, *, status: str | None = None, subject_id: str | None = None
) -> list[Appeal]:
    """Appeals, oldest deadline first."""
    query = by_deadline(appeals, status=status, subject_id=subject_id)
    return [_row(row) for row in conn.execute(query)]


def decide_appeal(
    conn: Connection,
    appeal_id: str,
    *,
    grant: bool,
    reason: str,
    decider: Decider,
    today: date,
    active: ActiveSchemes,
) -> Appeal:
    """Grant (the record is revoked, or repaired from today) or dismiss an appeal, as an
    operator other than the first decision's. Call inside a write lock.

    NotFound for an unknown appeal, AlreadyDecided for one decided already, NotAllowed without a
    written reason, when ``decider`` made the decision appealed, or has no name on their key.
    """
    plain_or_raise(NotAllowed, reason=reason)
    if not reason.strip():
        raise NotAllowed("a decision needs a written reason")
    appeal = get_appeal(conn, appeal_id)
    if appeal.status != "open":
        raise AlreadyDecided(f"appeal {appeal_id} is already {appeal.status}")
    if decider.made(appeal.first_decided_by):
        raise NotAllowed(
            f"you decided the {appeal.target_kind} appealed: another operator decides the appeal"
        )
    if not decider.name:
        raise NotAllowed(
            "an appeal is decided with a key that names its operator (xinyong keys create "
            "--role operator --name NAME)"
        )
    operator = decider.actor
    first = _target(conn, appeal.target_kind, appeal.target_id)
    assert first is not None  # an appeal names a stored decision
    key = f"{first.source}/{first.record_id}"
    before = active.record_effect(conn, appeal.subject_id, key, today)
    granted = f"appeal {appeal_id} of {appeal.target_kind} granted: {reason}"
    if grant and appeal.target_kind == "objection":
        void_record(
            conn,
            EventType.REVOKED,
            str(first.source),
            str(first.record_id),
            effective_on=today,
            actor=operator,
            reason=granted,
        )
    elif grant:
        append_event(
            conn,
            EventType.REPAIRED,
            str(first.source),
            str(first.record_id),
            effective_on=today,
            actor=operator,
            reason=granted,
        )
    status = "granted" if grant else "dismissed"
    conn.execute(
        update(appeals)
        .where(appeals.c.appeal_id == appeal_id)
        .values(
            status=status, decided_at=utc_now_text(), decided_by=operator, decision_reason=reason
        )
    )
    log_rows(conn, appeals, appeals.c.appeal_id == appeal_id)
    issue_notice(
        conn,
        appeal.subject_id,
        f"appeal-{status}",
        {
            "appeal_id": appeal_id,
            "appealed": {"kind": appeal.target_kind, "id": appeal.target_id},
            "record": key,
            "decision": status,
            "reason": reason,
            "decided_by": operator,
            "first_decided_by": appeal.first_decided_by,
            "counted_under": before,
            "standing_now": active.standings(
                conn, appeal.subject_id, today, [e["scheme"] for e in before]
            ),
        },
    )
    return get_appeal(conn, appeal_id)
