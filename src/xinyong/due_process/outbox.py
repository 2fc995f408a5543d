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
    "Post",
    "Recipient",
    "deliver_pending",
    "queue_message",
    "signed_headers",
]

Recipient = Literal["relying", "source"]
Post = Callable[[str, bytes, Mapping[str, str]], int]
"""Send a JSON body with headers to a URL; return the HTTP status (raise on a network error)."""

CLAIM_SECONDS = 120
"""How long a claimed message is left to its claimant before another process may retry it."""


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


def _claim(engine: Engine, message_id: str, seen_next_attempt: str) -> bool:
    with engine.begin() as conn:
        claimed = conn.execute(
            update(outbox)
            .where(
                outbox.c.message_id == message_id,
                outbox.c.delivered_at.is_(None),
                outbox.c.next_attempt_at == seen_next_attempt,
            )
            .values(next_attempt_at=_later(CLAIM_SECONDS))
        )
    return bool(claimed.rowcount)


def _due(engine: Engine, limit: int) -> Sequence[Any]:
    parties = and_(
        outbox.c.recipient_kind == "relying", relying_parties.c.name == outbox.c.relying_party
    )
    furnishers = and_(outbox.c.recipient_kind == "source", sources.c.name == outbox.c.relying_party)
    with engine.connect() as conn:
        return conn.execute(
            select(
                outbox.c.message_id,
                outbox.c.recipient_kind,
                outbox.c.relying_party.label("recipient"),
                outbox.c.payload,
                outbox.c.attempts,
                outbox.c.next_attempt_at,
                func.coalesce(relying_parties.c.webhook_url, sources.c.webhook_url).label("url"),
                func.coalesce(relying_parties.c.webhook_secret, sources.c.webhook_secret).label(
                    "secret"
                ),
            )
            .select_from(outbox.outerjoin(relying_parties, parties).outerjoin(sources, furnishers))
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.next_attempt_at <= utc_now_text(),
                # a recipient without a webhook reads its messages from the API: they wait (no
                # attempts, no backoff) until it registers one
                func.coalesce(relying_parties.c.webhook_url, sources.c.webhook_url).is_not(None),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.created_at)
            .limit(limit)
        ).all()


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


def deliver_pending(engine: Engine, post: Post, limit: int = 100) -> tuple[int, int]:
    """Deliver due messages; return (delivered, failed).

    Safe to run in several processes at once: each message is claimed (its next attempt moved
    :data:`CLAIM_SECONDS` ahead, if nobody moved it first) before it is sent.
    """
    delivered = failed = 0
    for message in _due(engine, limit):
        message_id, attempts = str(message.message_id), int(message.attempts)
        if not _claim(engine, message_id, str(message.next_attempt_at)):
            continue  # another process is delivering it
        error = _send(message, post)
        with engine.begin() as conn:
            done = outbox.update().where(outbox.c.message_id == message_id)
            if error is None:
                conn.execute(done.values(delivered_at=utc_now_text(), attempts=attempts + 1))
                delivered += 1
            else:
                retry = _later(min(3600, 2**attempts))
                conn.execute(
                    done.values(
                        attempts=attempts + 1, next_attempt_at=retry, last_error=error[:500]
                    )
                )
                failed += 1
    return delivered, failed
