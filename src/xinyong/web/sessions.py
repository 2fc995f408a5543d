"""Portal sign-in: server-side sessions opened with an API key, and CSRF tokens.

Signing in exchanges the key (pasted once into the form) for a random session id in a cookie
that is ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict`` (other sites' pages cannot
send it) and ``Secure`` over https. The database keeps only the id's SHA-256, the key id and the
expiry, so a copy of the table opens no session. Every request looks the session up together
with its key: revoking the key ends the session at once.

Forms of a signed-in page carry a synchronizer token derived from the session id (so it is bound
to the session, needs no storage, and cannot be computed from the stored hash). The sign-in form
itself, before any session exists, uses a double-submit token: a random value both in a cookie
and in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import Connection, delete, insert, select

from xinyong.application.keys import Principal, Role
from xinyong.ledger.schema import api_keys, web_sessions

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "WebSession",
    "clear_cookie",
    "close_session",
    "find_session",
    "new_login_token",
    "open_session",
    "same_token",
    "set_cookie",
]

SESSION_COOKIE = "xinyong_session"
LOGIN_COOKIE = "xinyong_login"


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in visitor: the key's principal and the session's CSRF token."""

    principal: Principal
    csrf: str
    session_hash: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _csrf_for(session_id: str) -> str:
    return hashlib.sha256(b"xinyong-csrf\x00" + session_id.encode()).hexdigest()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def open_session(conn: Connection, principal: Principal, minutes: int) -> str:
    """Store a new session for ``principal``'s key; return the session id for the cookie.

    Expired sessions are removed on the way (sign-ins are rare enough to carry that cost).
    """
    now = datetime.now(UTC)
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= _stamp(now)))
    session_id = secrets.token_urlsafe(32)
    conn.execute(
        insert(web_sessions).values(
            session_hash=_digest(session_id),
            key_id=principal.key_id,
            created_at=_stamp(now),
            expires_at=_stamp(now + timedelta(minutes=minutes)),
        )
    )
    return session_id


def find_session(conn: Connection, session_id: str) -> WebSession | None:
    """The live session of a cookie value: unexpired, and its key not revoked."""
    if not session_id:
        return None
    digest = _digest(session_id)
    row = conn.execute(
        select(api_keys.c.key_id, api_keys.c.role, api_keys.c.name)
        .join(web_sessions, web_sessions.c.key_id == api_keys.c.key_id)
        .where(
            web_sessions.c.session_hash == digest,
            web_sessions.c.expires_at > _stamp(datetime.now(UTC)),
            api_keys.c.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    principal = Principal(Role(row.role), str(row.name), str(row.key_id))
    return WebSession(principal, _csrf_for(session_id), digest)


def close_session(conn: Connection, session: WebSession) -> None:
    """Sign out: forget the session."""
    conn.execute(delete(web_sessions).where(web_sessions.c.session_hash == session.session_hash))


def new_login_token() -> str:
    """A fresh double-submit token for the sign-in form."""
    return secrets.token_urlsafe(32)


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def set_cookie(request: Request, response: Response, name: str, value: str, seconds: int) -> None:
    """Set a cookie the way every portal cookie is set: HttpOnly, SameSite=Strict, Secure on
    https."""
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Remove a portal cookie."""
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
