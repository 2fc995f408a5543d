"""The outbox: messages pushed to webhooks, signed, retried, surviving restarts.

Two kinds of recipient: relying parties (corrections of answers they received) and sources
(disputes of records they furnished). A message is a row queued in the same transaction as the
change it reports, so it is sent if and only if that change is committed; delivery retries with
exponential backoff (up to an hour apart) until the webhook answers 2xx, the message due longest
first, so that one recipient's failing webhook does not hold up the others'. A message to a
recipient without a webhook waits, untried, until one is registered (a source reads its disputes
from ``GET /v1/disputes`` meanwhile).

Every message is signed as `Standard Webhooks <https://www.standardwebhooks.com/>`_ specify
(``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``id.timestamp.body``), with the recipient's own secret, so that existing verifier libraries
read it; the message id stays the same across retries, for the receiver to drop duplicates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from standardwebhooks import Webhook

from xinyong.ledger.append import utc_now_text
from xinyong.ledger.schema import outbox, relying_parties, sources

__all__ = [
    "CLAIM_SECONDS",
    "SEND_SECONDS",
    "Post",
    "Recipient",
    "deliver_pending",
    "queue_message",
    "signed_headers",
]

Recipient = Literal["relying", "source"]
Post = Callable[[str, bytes, Mapping[str, str]], int]
"""Send a JSON body with headers to a URL; return the HTTP status (raise on a network error)."""

SEND_SECONDS = 10.0
"""The longest a send may take, from the connection to the answer's status (``post_json`` gives
up after it): a claim must last longer."""

CLAIM_SECONDS = 120.0
"""How long a claimed message is left to its claimant before another process may retry it (by
default; the setting ``webhook_claim_seconds``, at least :data:`SEND_SECONDS` and a second)."""


def queue_message(
    conn: Connection,
    recipient_kind: Recipient,
    recipient: str,
    reference: str,
    payload: Mapping[str, object],
) -> str:
    """Queue a message in the caller's transaction; return its id (the ``webhook-id``).
    ``reference``: the corrected decision, or the disputed objection."""
    message_id = str(uuid.uuid4())
    now = utc_now_text()
    conn.execute(
        insert(outbox).values(
            message_id=message_id,
            recipient_kind=recipient_kind,
            relying_party=recipient,
            decision_id=reference,
            payload=orjson.dumps(dict(payload)).decode(),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return message_id


def signed_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The headers of a message signed with ``secret`` at ``at``."""
    signature = Webhook(secret).sign(message_id, at, body.decode("utf-8"))
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _due(engine: Engine, limit: int) -> Sequence[Any]:
    """Up to ``limit`` messages due, oldest first, with their recipients' webhooks: read once
    per round, without a lock (a round with nothing to send writes nothing)."""
    with engine.connect() as conn:
        return conn.execute(
            select(
                outbox.c.message_id,
                outbox.c.recipient_kind,
                outbox.c.relying_party.label("recipient"),
                outbox.c.payload,
                outbox.c.attempts,
                _webhook_url().label("url"),
                func.coalesce(relying_parties.c.webhook_secret, sources.c.webhook_secret).label(
                    "secret"
                ),
            )
            .select_from(_with_recipients())
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.next_attempt_at <= utc_now_text(),
                # a recipient without a webhook reads its messages from the API: they wait (no
                # attempts, no backoff) until it registers one
                _webhook_url().is_not(None),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.created_at)
            .limit(limit)
        ).all()


def _claim(engine: Engine, message_id: str, claim_seconds: float) -> str | None:
    """Claim a message read as due: move its next attempt ``claim_seconds`` ahead and return
    that time (the claim's end), or None when it is no longer this process's to send (another
    claimed or delivered it meanwhile, or holds its row now).

    One statement, in its own transaction. On PostgreSQL the row is taken ``FOR UPDATE SKIP
    LOCKED``: a row another transaction holds is passed over at once, never waited for, and a
    row claimed and committed since it was read no longer qualifies once its lock is taken (its
    next attempt is in the future). SQLite has one writer, so claims follow one another anyway
    (SQLAlchemy leaves the locking clause out there).
    """
    held = (
        select(outbox.c.message_id)
        .where(
            outbox.c.message_id == message_id,
            outbox.c.delivered_at.is_(None),
            outbox.c.next_attempt_at <= utc_now_text(),
        )
        .with_for_update(skip_locked=True)
    )
    until = _later(claim_seconds)
    with engine.begin() as conn:
        claimed = conn.execute(
            update(outbox)
            .where(outbox.c.message_id == held.scalar_subquery())
            .values(next_attempt_at=until)
        )
    return until if claimed.rowcount else None


def _with_recipients() -> Any:
    """The outbox joined to its recipients, relying parties and sources (at most one each)."""
    parties = and_(
        outbox.c.recipient_kind == "relying", relying_parties.c.name == outbox.c.relying_party
    )
    furnishers = and_(outbox.c.recipient_kind == "source", sources.c.name == outbox.c.relying_party)
    return outbox.outerjoin(relying_parties, parties).outerjoin(sources, furnishers)


def _webhook_url() -> Any:
    return func.coalesce(relying_parties.c.webhook_url, sources.c.webhook_url)


def _send(message: Any, post: Post) -> str | None:
    """Send one message; the error that makes it due again, or None once delivered."""
    url, secret = message.url, message.secret
    who = "relying party" if message.recipient_kind == "relying" else "source"
    if not url:
        return f"the {who} has no webhook"
    if not secret:
        return f"the {who} has no webhook secret: make one to sign its messages"
    body = str(message.payload).encode()
    try:
        headers = signed_headers(str(secret), str(message.message_id), body, datetime.now(UTC))
        status = post(str(url), body, headers)
    except Exception as exc:  # any network failure: retry later
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"webhook answered HTTP {status}"


def deliver_pending(
    engine: Engine, post: Post, limit: int = 100, claim_seconds: float = CLAIM_SECONDS
) -> tuple[int, int]:
    """Deliver up to ``limit`` due messages, each at most once; return (delivered, failed).

    Safe to run in any number of processes at once: each message is claimed (:func:`_claim`)
    for ``claim_seconds`` before it is sent, longer than a send may take (:data:`SEND_SECONDS`),
    and its outcome is written only while the claim is still this process's. A process killed
    after its claim leaves the message to be sent again once the claim lapses (the receiver
    drops a duplicate by its ``webhook-id``).
    """
    delivered = failed = 0
    for message in _due(engine, limit):
        message_id, attempts = str(message.message_id), int(message.attempts)
        until = _claim(engine, message_id, claim_seconds)
        if until is None:
            continue  # another process is delivering it
        error = _send(message, post)
        mine = outbox.update().where(
            outbox.c.message_id == message_id, outbox.c.next_attempt_at == until
        )
        with engine.begin() as conn:
            if error is None:
                conn.execute(mine.values(delivered_at=utc_now_text(), attempts=attempts + 1))
                delivered += 1
            else:
                retry = _later(min(3600, 2**attempts))
                conn.execute(
                    mine.values(
                        attempts=attempts + 1, next_attempt_at=retry, last_error=error[:500]
                    )
                )
                failed += 1
    return delivered, failed
