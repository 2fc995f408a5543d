"""Correction push: when a decision a relying party received would now be answered differently,
tell it.

After anything that changes a subject's standing (an upheld objection, a lapse, a repair, an
expiry found by the daily sweep), the latest check of each relying party and measure about that
subject in the last 90 days is decided again. When the answer changed, the new decision is
logged like any check and a correction naming both decisions is queued in the ``outbox`` table
for the relying party's webhook. Delivery retries with exponential backoff (up to an hour
apart) and survives restarts, because the queue is a table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update

from xinyong.decisions.checks import Decision, decide_measure, log_decision
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.schema import inquiries, outbox, relying_parties

__all__ = [
    "Correction",
    "correction_window_start",
    "deliver_pending",
    "plan_corrections",
    "queue_correction",
]

Post = Callable[[str, bytes], int]
"""Send a JSON body to a URL; return the HTTP status (raise on a network error)."""


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
    message_id = str(uuid.uuid4())
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
    now = utc_now_text()
    conn.execute(
        insert(outbox).values(
            message_id=message_id,
            relying_party=correction.relying_party,
            decision_id=correction.previous_decision_id,
            payload=orjson.dumps(payload).decode(),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return message_id


CLAIM_SECONDS = 120
"""How long a claimed message is left to its claimant before another process may retry it."""


def _claim(engine: Engine, message_id: str, seen_next_attempt: str) -> bool:
    lease = (datetime.now(UTC) + timedelta(seconds=CLAIM_SECONDS)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with engine.begin() as conn:
        claimed = conn.execute(
            update(outbox)
            .where(
                outbox.c.message_id == message_id,
                outbox.c.delivered_at.is_(None),
                outbox.c.next_attempt_at == seen_next_attempt,
            )
            .values(next_attempt_at=lease)
        )
    return bool(claimed.rowcount)


def deliver_pending(engine: Engine, post: Post, limit: int = 100) -> tuple[int, int]:
    """Deliver due outbox messages to webhooks; return (delivered, failed).

    Safe to run in several processes at once: each message is claimed (its next attempt moved
    :data:`CLAIM_SECONDS` ahead, if nobody moved it first) before it is sent.
    """
    now = utc_now_text()
    with engine.connect() as conn:
        due = conn.execute(
            select(
                outbox.c.message_id,
                outbox.c.payload,
                outbox.c.attempts,
                outbox.c.next_attempt_at,
                relying_parties.c.webhook_url,
            )
            .join(relying_parties, relying_parties.c.name == outbox.c.relying_party)
            .where(outbox.c.delivered_at.is_(None), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.created_at)
            .limit(limit)
        ).all()
    delivered = failed = 0
    for message in due:
        if not _claim(engine, message.message_id, str(message.next_attempt_at)):
            continue  # another service process is delivering it
        error: str | None = None
        if not message.webhook_url:
            error = "the relying party has no webhook"
        else:
            try:
                status = post(str(message.webhook_url), str(message.payload).encode())
                if not 200 <= status < 300:
                    error = f"webhook answered HTTP {status}"
            except Exception as exc:  # any network failure: retry later
                error = f"{type(exc).__name__}: {exc}"
        with engine.begin() as conn:
            if error is None:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.message_id == message.message_id)
                    .values(delivered_at=utc_now_text(), attempts=message.attempts + 1)
                )
                delivered += 1
            else:
                backoff = min(3600, 2 ** int(message.attempts))
                retry = (datetime.now(UTC) + timedelta(seconds=backoff)).strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"
                )
                conn.execute(
                    update(outbox)
                    .where(outbox.c.message_id == message.message_id)
                    .values(
                        attempts=message.attempts + 1, next_attempt_at=retry, last_error=error[:500]
                    )
                )
                failed += 1
    return delivered, failed
