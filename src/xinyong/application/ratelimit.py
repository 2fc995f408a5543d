"""A token bucket per relying party: ``rate`` checks per second, bursts of ``burst``, one limit
for the whole deployment however many web workers serve it.

Each worker process keeps its own state, so a bucket in memory limits one worker only, and
``serve --workers N`` would allow N times the rate. Two ways to hold one limit:

- :class:`SharedBuckets` (setting ``redis_url``): the bucket lives in Redis and is updated by a
  Lua script, atomically for every worker on every machine, on Redis's clock. A worker takes
  tokens in small leases (at most :data:`LEASE_SHARE` of the burst at a time) and spends them
  locally, so most checks do not wait for Redis; every token spent was granted by the shared
  bucket, so together the workers never exceed the limit.
- :class:`TokenBuckets` alone: the limit is divided between the workers (each has ``rate / N``
  and ``burst / N``, at least one). They never exceed it together, but a relying party whose
  connections all land on one worker gets only that worker's share.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Protocol

__all__ = ["LEASE_SHARE", "RateLimiter", "RateLimiterDown", "SharedBuckets", "TokenBuckets"]

LEASE_SHARE = 0.1
"""The largest part of the burst a worker leases at once from the shared bucket."""


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
        return cls(rate / workers, max(1, burst // workers))

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


_LEASE = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
if rate > 0 then
  redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
end
return {granted, tostring(tokens)}
"""
"""Grant up to ``want`` whole tokens from the bucket; return (granted, tokens left)."""


class SharedBuckets:
    """Token buckets in Redis, one per relying party for every worker of the deployment."""

    def __init__(self, url: str, namespace: str, rate: float, burst: int) -> None:
        self.url = url
        self.namespace = namespace
        self.rate = rate
        self.burst = burst
        self.lease = max(1, math.floor(burst * LEASE_SHARE))
        self._leased: dict[str, int] = {}
        self._client: Any = None
        self._script: Any = None

    async def take(self, name: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available.
        Raises :class:`RateLimiterDown` when Redis cannot be reached."""
        left = self._leased.get(name, 0)
        if left > 0:
            self._leased[name] = left - 1
            return 0.0
        granted, tokens = await self._grant(name)
        if granted > 0:
            self._leased[name] = granted - 1
            return 0.0
        return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf

    async def _grant(self, name: str) -> tuple[int, float]:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        try:
            if self._script is None:
                self._client = Redis.from_url(self.url, socket_timeout=2.0)
                self._script = self._client.register_script(_LEASE)
            granted, tokens = await self._script(
                keys=[f"xinyong:rate:{self.namespace}:{name}"],
                args=[self.rate, self.burst, self.lease],
            )
        except (RedisError, OSError) as exc:
            raise RateLimiterDown(f"the rate limiter's Redis is unreachable: {exc}") from exc
        return int(granted), float(tokens)

    async def close(self) -> None:
        """Close the connection to Redis."""
        if self._client is not None:
            await self._client.aclose()
            self._client = self._script = None
