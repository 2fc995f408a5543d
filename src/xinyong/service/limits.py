"""Rate limits on the routes that cost work: a relying party's checks, by party; the public
routes that build reports or verify signatures, by client address. The buckets are the
service's one limiter (:mod:`xinyong.application.ratelimit`), shared by every web worker."""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from xinyong.application.context import Context
from xinyong.application.ratelimit import RateLimiterDown

__all__ = ["public_within_limit", "within_limit"]

log = logging.getLogger("xinyong.limits")


async def within_limit(ctx: Context, name: str) -> None:
    """Take a token of ``name``'s rate limit (else 429, or 503 when it cannot be reached)."""
    try:
        wait = await ctx.buckets.take(name)
    except RateLimiterDown as exc:
        log.error("%s", exc)
        raise HTTPException(
            503, "the rate limiter is unavailable; try again", headers={"Retry-After": "1"}
        ) from exc
    if wait > 0:
        raise HTTPException(
            429, "rate limit exceeded", headers={"Retry-After": str(max(1, round(wait + 0.5)))}
        )


async def public_within_limit(ctx: Context, request: Request) -> None:
    """The rate limit of an anonymous caller, by its address (a name no party can have)."""
    client = request.client.host if request.client is not None else "unknown"
    await within_limit(ctx, f"#public:{client}")
