"""Credit repair: after a record's minimum display period the subject may apply; an operator
approves when the conditions hold (typically: the obligation was performed, a fulfilment record
with the same case exists) and the record stops counting and being disclosed from that day.

The minimum display period comes from the code's severity tier in the catalog (NDRC Credit
Repair Management Measures, 2026). At its maximum display period a record expires by itself;
no request is needed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, select

from xinyong.domain.catalog import Catalog, Polarity
from xinyong.domain.refusals import NotAllowed
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.record_requests import REPAIRS, Counted, close_request, open_request
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import records, repairs

__all__ = [
    "Repair",
    "close_repairs",
    "decide_repair",
    "list_repairs",
    "repair_available_from",
    "request_repair",
]


@dataclass(frozen=True, slots=True)
class Repair:
    """A repair request and its state; ``fulfilled_by`` lists fulfilment records of the case."""

    repair_id: str
    subject_id: str
    source: str
    record_id: str
    reason: str
    status: str
    filed_at: str
    decided_at: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None

    def json(self) -> dict[str, object]:
        """As served by the API."""
        return {
            "repair_id": self.repair_id,
            "subject_id": self.subject_id,
            "record": f"{self.source}/{self.record_id}",
            "reason": self.reason,
            "status": self.status,
            "filed_at": self.filed_at,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
        }


def _row(row: object) -> Repair:
    return Repair(**{name: getattr(row, name) for name in Repair.__dataclass_fields__})


def repair_available_from(occurred_at: date, code: str, catalog: Catalog) -> date:
    """The first day repair may be requested for a record."""
    entry = catalog.get(code)
    days = entry.min_display_days if entry is not None else 0
    return occurred_at + timedelta(days=days)


def request_repair(
    conn: Connection,
    subject_id: str,
    source: str,
    record_id: str,
    reason: str,
    today: date,
    catalog: Catalog,
) -> Repair:
    """Apply for repair of one of the subject's own records; NotAllowed for a record that is
    not the subject's, a positive record, or before the minimum display period."""
    plain_or_raise(NotAllowed, source=source, record_id=record_id, reason=reason)
    row = conn.execute(
        select(records.c.subject_id, records.c.code, records.c.occurred_at).where(
            records.c.source == source, records.c.record_id == record_id
        )
    ).first()
    if row is None or row.subject_id != subject_id:
        raise NotAllowed(N_("no record %(record)s in your file"), record=f"{source}/{record_id}")
    entry = catalog.get(row.code)
    if entry is not None and entry.polarity is Polarity.POSITIVE:
        raise NotAllowed(N_("only records of dishonest conduct are repaired"))
    available = repair_available_from(row.occurred_at, row.code, catalog)
    if today < available:
        raise NotAllowed(
            N_(
                "repair of %(code)s may be requested from %(day)s (minimum display period of "
                "its severity tier)"
            ),
            code=row.code,
            day=available,
        )
    repair = Repair(
        str(uuid.uuid4()),
        subject_id,
        source,
        record_id,
        reason.strip() or "-",
        "open",
        utc_now_text(),
    )
    conn.execute(
        repairs.insert().values(
            repair_id=repair.repair_id,
            subject_id=subject_id,
            source=source,
            record_id=record_id,
            reason=repair.reason,
            status="open",
            filed_at=repair.filed_at,
        )
    )
    log_rows(conn, repairs, repairs.c.repair_id == repair.repair_id)
    return repair


def list_repairs(
    conn: Connection, *, status: str | None = None, subject_id: str | None = None
) -> list[Repair]:
    """Repair requests, oldest first."""
    query = select(repairs).order_by(repairs.c.filed_at)
    if status is not None:
        query = query.where(repairs.c.status == status)
    if subject_id is not None:
        query = query.where(repairs.c.subject_id == subject_id)
    return [_row(row) for row in conn.execute(query)]


def decide_repair(
    conn: Connection,
    repair_id: str,
    *,
    approve: bool,
    reason: str,
    operator: str,
    today: date,
    active: ActiveSchemes,
) -> Repair:
    """Approve (the record stops counting from today) or reject. Call inside a write lock.

    The notice names the rules and scheme versions the record counted under before the decision.
    NotFound for an unknown request, AlreadyDecided for one decided already, NotAllowed without a
    written reason.
    """
    repair = _row(open_request(conn, REPAIRS, repair_id, reason))
    status = "approved" if approve else "rejected"
    key = f"{repair.source}/{repair.record_id}"
    before = active.record_effect(conn, repair.subject_id, key, today)
    if approve:
        append_event(
            conn,
            EventType.REPAIRED,
            repair.source,
            repair.record_id,
            effective_on=today,
            actor=operator,
            reason=f"credit repair {repair_id} approved: {reason}",
        )
    return _close(conn, repair, status, reason, operator, today, Counted(active, before))


def _close(
    conn: Connection,
    repair: Repair,
    status: str,
    reason: str,
    actor: str,
    today: date,
    counted: Counted | None,
) -> Repair:
    return _row(
        close_request(
            conn,
            REPAIRS,
            repair,
            status=status,
            reason=reason,
            actor=actor,
            today=today,
            details={"effective_on": today.isoformat()},
            counted=counted,
        )
    )


def close_repairs(
    conn: Connection, source: str, record_id: str, *, why: str, actor: str, today: date
) -> list[Repair]:
    """Close the open repair requests of a record that no longer counts (revoked), each with a
    notice to the subject: there is nothing left to repair, and no operator should decide it."""
    rows = conn.execute(
        select(repairs).where(
            repairs.c.source == source,
            repairs.c.record_id == record_id,
            repairs.c.status == "open",
        )
    ).all()
    closed = []
    for row in rows:
        repair = _row(row)
        reason = f"the record was revoked ({why}): nothing is left to repair"
        closed.append(_close(conn, repair, "closed", reason, actor, today, None))
    return closed
