"""Correction push: when a decision a relying party received would now be answered differently,
tell it.

After anything that changes a subject's standing (an upheld objection, a lapse, a repair, an
expiry found by the daily sweep), the latest check of each relying party and measure about that
subject in the last 90 days is decided again. When the answer changed, the new decision is
logged like any check and a correction naming both decisions is queued in the ``outbox`` table
for the relying party's webhook (:mod:`xinyong.due_process.outbox`: signed, retried, surviving
restarts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, func, select

from xinyong.decisions.checks import Decision, decide_measure, log_decision
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.due_process.outbox import queue_message
from xinyong.ledger.schema import inquiries

__all__ = [
    "Correction",
    "correction_window_start",
    "plan_corrections",
    "queue_correction",
]


def correction_window_start(window_days: int) -> str:
    """The earliest ``made_at`` of a check whose answer is still corrected."""
    return (datetime.now(UTC) - timedelta(days=window_days)).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True, slots=True)
class Correction:
    """A relying party's latest answer about a subject that would now be different."""

    relying_party: str
    previous_decision_id: str
    previous: bool
    decision: Decision
    """The new answer, decided as a check would be now (logged when the correction is queued)."""
    notice: dict[str, object] | None
    """The adverse notice of the new answer, if it applies a sanction."""


def plan_corrections(
    conn: Connection,
    registry: SchemeRegistry,
    subject_id: str,
    today: date,
    catalog: Catalog | None,
    window_days: int = 90,
) -> list[Correction]:
    """Decide again the latest check of each relying party and measure about ``subject_id`` in
    the window; return the ones whose answer changed (reads only)."""
    since = correction_window_start(window_days)
    latest = (
        select(
            inquiries.c.relying_party,
            inquiries.c.measure,
            func.max(inquiries.c.made_at).label("made_at"),
        )
        .where(inquiries.c.subject_id == subject_id, inquiries.c.made_at >= since)
        .group_by(inquiries.c.relying_party, inquiries.c.measure)
        .subquery()
    )
    rows = conn.execute(
        select(inquiries)
        .join(
            latest,
            (inquiries.c.relying_party == latest.c.relying_party)
            & (inquiries.c.measure == latest.c.measure)
            & (inquiries.c.made_at == latest.c.made_at),
        )
        .where(inquiries.c.subject_id == subject_id)
    ).all()
    planned = []
    for row in rows:
        try:
            again, notice = decide_measure(
                conn, registry, row.relying_party, subject_id, row.measure, today, catalog
            )
        except (LookupError, PermissionError):
            continue  # the measure or the registration is gone: nothing to correct against
        if again.applies == bool(row.applies):
            continue  # unchanged: nothing is logged (the party did not ask again)
        planned.append(
            Correction(row.relying_party, row.decision_id, bool(row.applies), again, notice)
        )
    return planned


def queue_correction(conn: Connection, correction: Correction) -> str:
    """Log the new decision and queue the correction for delivery; return the message id."""
    again = correction.decision
    log_decision(conn, again, correction.notice)  # the corrected answer, replayable like any other
    payload = {
        "type": "correction",
        "decision_id": correction.previous_decision_id,
        "new_decision_id": again.decision_id,
        "subject": again.subject_id,
        "measure": again.measure,
        "previous": correction.previous,
        "applies": again.applies,
        "scheme": again.scheme_id,
        "version": again.version,
        "as_of": again.as_of.isoformat(),
    }
    return queue_message(
        conn, "relying", correction.relying_party, correction.previous_decision_id, payload
    )
