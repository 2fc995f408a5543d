"""A token bucket per relying party: ``rate`` checks per second, bursts of ``burst``, one limit
for the whole deployment however many web workers serve it.

Each worker process keeps its own state, so a bucket in memory limits one worker only, and
``serve --workers N`` would allow N times the rate. Two ways to hold one limit:

- :class:`SharedBuckets` (setting ``redis_url``): the bucket lives in Redis and every check
  takes its token there, through a Lua script that runs atomically for every worker on every
  machine, on Redis's clock. (Tokens leased ahead to a worker would save the round trip, but a
  lease outlives the refill behind it: eight workers holding leases admitted 173 checks where
  the burst allowed 101.)
- :class:`TokenBuckets` alone: the limit is divided between the workers (each has ``rate / N``
  and ``burst // N``). They never exceed it together, but a relying party whose connections all
  land on one worker gets only that worker's share; ``xinyong serve`` refuses more workers than
  the burst without ``redis_url``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Protocol

__all__ = [
    "RateLimiter",
    "RateLimiterDown",
    "SharedBuckets",
    "Throttled",
    "TokenBuckets",
    "public_caller",
    "take_or_refuse",
]


class RateLimiterDown(RuntimeError):
    """The shared buckets cannot be reached: the check is refused (503), not let through."""


class RateLimiter(Protocol):
    """Takes one token for ``name``: 0 when the check may go on, else the seconds to wait."""

    async def take(self, name: str) -> float: ...


class TokenBuckets:
    """Thread-safe token buckets keyed by name, in this process's memory."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def share(cls, rate: float, burst: int, workers: int) -> TokenBuckets:
        """This worker's share of a limit divided between ``workers`` processes."""
        return cls(rate / workers, burst // workers)

    async def take(self, name: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        return self.take_now(name)

    def take_now(self, name: str, now: float | None = None) -> float:
        """:meth:`take`, for a caller that is not on an event loop (or sets the clock)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(name, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf


_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = 0
if tokens >= 1 then
  granted = 1
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
if rate > 0 then
  redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
end
return {granted, tostring(tokens)}
"""
"""Take one token from the bucket if there is one; return (1 or 0, tokens left)."""


class SharedBuckets:
    """Token buckets in Redis, one per relying party for every worker of the deployment."""

    def __init__(self, url: str, namespace: str, rate: float, burst: int) -> None:
        self.url = url
        self.namespace = namespace
        self.rate = rate
        self.burst = burst
        self._client: Any = None
        self._script: Any = None

    async def take(self, name: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available.
        Raises :class:`RateLimiterDown` when Redis cannot be reached."""
        granted, tokens = await self._take(name)
        if granted:
            return 0.0
        return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf

    async def _take(self, name: str) -> tuple[int, float]:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        try:
            if self._script is None:
                self._client = Redis.from_url(self.url, socket_timeout=2.0)
                self._script = self._client.register_script(_TAKE)
            granted, tokens = await self._script(
                keys=[f"xinyong:rate:{self.namespace}:{name}"],
                args=[self.rate, self.burst],
            )
        except (RedisError, OSError) as exc:
            raise RateLimiterDown(f"the rate limiter's Redis is unreachable: {exc}") from exc
        return int(granted), float(tokens)

    async def close(self) -> None:
        """Close the connection to Redis."""
        if self._client is not None:
            await self._client.aclose()
            self._client = self._script = None


class Throttled(RuntimeError):
    """A caller over its rate limit: it may try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limit exceeded")
        self.retry_after = retry_after


async def take_or_refuse(limiter: RateLimiter, name: str) -> None:
    """Take a token of ``name``'s limit: :class:`Throttled` when there is none,
    :class:`RateLimiterDown` when the limiter cannot be reached. Both transports (the API and
    the portal) answer from these two."""
    wait = await limiter.take(name)
    if wait > 0:
        raise Throttled(max(1, round(wait + 0.5)))


def public_caller(host: str | None) -> str:
    """The limit's name of an anonymous caller, by its address (a name no party can have)."""
    return f"#public:{host or 'unknown'}"
