"""Rate limits on the routes that cost work: a relying party's checks, by party; the public
routes that build reports or verify signatures, by client address. The buckets are the
service's one limiter (:mod:`xinyong.application.ratelimit`), shared by every web worker."""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from xinyong.application.context import Context
from xinyong.application.ratelimit import (
    RateLimiterDown,
    Throttled,
    public_caller,
    take_or_refuse,
)

__all__ = ["public_within_limit", "within_limit"]

log = logging.getLogger("xinyong.limits")


async def within_limit(ctx: Context, name: str) -> None:
    """Take a token of ``name``'s rate limit (else 429, or 503 when it cannot be reached)."""
    try:
        await take_or_refuse(ctx.buckets, name)
    except RateLimiterDown as exc:
        log.error("%s", exc)
        raise HTTPException(
            503, "the rate limiter is unavailable; try again", headers={"Retry-After": "1"}
        ) from exc
    except Throttled as exc:
        raise HTTPException(
            429, "rate limit exceeded", headers={"Retry-After": str(exc.retry_after)}
        ) from exc


async def public_within_limit(ctx: Context, request: Request) -> None:
    """The rate limit of an anonymous caller, by its address."""
    await within_limit(ctx, public_caller(request.client.host if request.client else None))
