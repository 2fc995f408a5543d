"""Voiding a record: the one flow every decision that finds a record wrong goes through (an
upheld objection, a furnisher's "inaccurate", a human review that changes the outcome, an
appeal granted against an objection's rejection, an objection left undecided past its deadline).

The record stops counting for every valid time (a ``revoked`` or ``suppressed`` event in the
ledger), and the subject's open repair requests of it close themselves with a notice: nothing
is left to repair.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from xinyong.due_process.repairs import Repair, close_repairs
from xinyong.ledger.effective import VOIDING, EventType
from xinyong.ledger.lifecycle import append_event

__all__ = ["void_record"]


def void_record(
    conn: Connection,
    event: EventType,
    source: str,
    record_id: str,
    *,
    effective_on: date,
    actor: str,
    reason: str,
) -> list[Repair]:
    """Void ``source/record_id`` with ``event`` (revoked or suppressed) and close its open
    repair requests (returned). Call inside a write lock."""
    if event.value not in VOIDING:
        raise ValueError(f"{event.value} does not void a record")
    append_event(
        conn,
        event,
        source,
        record_id,
        effective_on=effective_on,
        actor=actor,
        reason=reason,
    )
    return close_repairs(conn, source, record_id, why=reason, actor=actor, today=effective_on)
