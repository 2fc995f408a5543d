"""Authentication and role checks: every route declares the roles it admits.

A request presents ``Authorization: Bearer <key>`` (or ``X-API-Key``); no key means the public.
A route built with :func:`roles` admits exactly the listed roles: a missing key on a keyed route
gets 401, a key of another role 403. The declared roles are also published in the OpenAPI
document (``x-roles``), which is how the route-by-role test finds them.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role, authenticate
from xinyong.ttl import MISSING as _MISSING

__all__ = ["ROLE_KEY", "admit", "principal_for", "principal_of", "roles"]

ROLE_KEY = "x-roles"


async def principal_of(request: Request) -> Principal:
    """The caller: the key's principal, or the public when no key is given."""
    header = request.headers.get("authorization", "")
    return await principal_for(
        request.app.state.context, header, request.headers.get("x-api-key", "")
    )


async def principal_for(ctx: Context, authorization: str, api_key: str) -> Principal:
    """The principal of the key in an ``Authorization: Bearer`` or ``X-API-Key`` header value
    (the public when neither holds one; 401 for an unknown or revoked key).

    Keys are looked up in the service's short-lived cache first (keyed by the token's hash), so a
    busy relying party costs one database read every ``cache_seconds``, not one per request.
    """
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    token = token or api_key.strip()
    if not token:
        return Principal(Role.PUBLIC)

    def load() -> Principal | None:
        with ctx.engine.connect() as conn:
            return authenticate(conn, token)

    digest = hashlib.sha256(token.encode()).hexdigest()
    principal = ctx.principals.peek(digest)
    if principal is _MISSING and ctx.local_database:
        # A local read of one row: cheaper on the loop than a thread hop. Handing it to threads
        # made every request that found the entry expired start its own load at once, and their
        # contention for the interpreter lock stalled the loop for tens of milliseconds.
        principal = ctx.principals.get(digest, load)
    elif principal is _MISSING:
        principal = await run_in_threadpool(ctx.principals.get, digest, load)
    if principal is None:
        raise HTTPException(
            401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def admit(principal: Principal, allowed: tuple[Role, ...]) -> Principal:
    """The principal if its role is allowed; else 401 (no key) or 403 (a key of another role)."""
    if principal.role in allowed:
        return principal
    if principal.role is Role.PUBLIC:
        raise HTTPException(401, "an API key is required", headers={"WWW-Authenticate": "Bearer"})
    raise HTTPException(403, f"a {principal.role.value} key may not do this")


def roles(*allowed: Role) -> dict[str, Any]:
    """Route keyword arguments admitting ``allowed`` roles (and publishing them)."""

    async def guard(principal: Annotated[Principal, Depends(principal_of)]) -> Principal:
        return admit(principal, allowed)

    return {
        "dependencies": [Depends(guard)],
        "openapi_extra": {ROLE_KEY: [role.value for role in allowed]},
    }
