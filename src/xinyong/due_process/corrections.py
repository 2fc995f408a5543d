"""Correction push: when a decision a relying party received would now be answered differently,
tell it.

After anything that changes a subject's records (records submitted, an upheld objection, a
lapse, a repair, a review), the latest check of each relying party and measure about that
subject in the last 90 days is decided again. When the answer changed, the new decision is
logged like any check and a correction naming both decisions is queued in the ``outbox`` table
for the relying party's webhook (:mod:`xinyong.due_process.outbox`: signed, retried, surviving
restarts).

Not yet: the daily refresh of every subject
(:func:`~xinyong.due_process.refresh.refresh_all`) opens and closes list entries but decides no
check again, so an answer that changes only with time (a record past its term) is corrected
only when something else refreshes its subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select

from xinyong.decisions.checks import (
    Decision,
    KnownStandings,
    Registrations,
    decide_measure,
    log_decision,
)
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.due_process.outbox import queue_message
from xinyong.ledger.driver_sql import DriverStatement
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


def _latest_checks() -> DriverStatement:
    q = inquiries.c
    latest = (
        select(q.relying_party, q.measure, func.max(q.made_at).label("made_at"))
        .where(q.subject_id == bindparam("subject"), q.made_at >= bindparam("since"))
        .group_by(q.relying_party, q.measure)
        .subquery()
    )
    statement = (
        select(q.relying_party, q.measure, q.decision_id, q.applies)
        .join(
            latest,
            (q.relying_party == latest.c.relying_party)
            & (q.measure == latest.c.measure)
            & (q.made_at == latest.c.made_at),
        )
        .where(q.subject_id == bindparam("subject"))
    )
    return DriverStatement(statement, {"subject": "", "since": ""})


_LATEST_CHECKS = _latest_checks()
"""The latest check of each relying party and measure about a subject since a time, compiled
once: the refresh after a batch of records runs it for every subject of the batch checked in
the window."""


def plan_corrections(
    conn: Connection,
    registry: SchemeRegistry,
    subject_id: str,
    today: date,
    catalog: Catalog | None,
    window_days: int = 90,
    known: KnownStandings | None = None,
    registrations: Registrations | None = None,
) -> list[Correction]:
    """Decide again the latest check of each relying party and measure about ``subject_id`` in
    the window; return the ones whose answer changed (reads only, in ``conn``'s transaction).
    ``known`` and ``registrations``: standings already worked out and the parties'
    registrations read so far (:func:`~xinyong.decisions.checks.decide_measure`)."""
    params = {"subject": subject_id, "since": correction_window_start(window_days)}
    planned = []
    for relying_party, measure, decision_id, applied in _LATEST_CHECKS.rows(conn, params):
        try:
            again, notice = decide_measure(
                conn,
                registry,
                relying_party,
                subject_id,
                measure,
                today,
                catalog,
                registrations or Registrations(),
                known=known,
            )
        except (LookupError, PermissionError):
            continue  # the measure or the registration is gone: nothing to correct against
        if again.applies == bool(applied):
            continue  # unchanged: nothing is logged (the party did not ask again)
        planned.append(Correction(relying_party, decision_id, bool(applied), again, notice))
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
