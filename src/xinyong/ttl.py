"""A small thread-safe cache whose entries expire after a fixed number of seconds.

The decision service answers every check with the same few lookups (the caller's key, the relying
party's registered measures, the active scheme of a measure). Those change rarely and through the
operator, so they are cached: a change made through the service clears the cache at once, and a
change made elsewhere (the CLI, another process) is seen after at most ``seconds``.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

__all__ = ["MISSING", "Missing", "TtlCache"]


class Missing(enum.Enum):
    """The type of :data:`MISSING`."""

    MISSING = "missing"


MISSING: Final = Missing.MISSING
"""What :meth:`TtlCache.peek` returns for an absent or expired entry (None may be a value)."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``get(key, load)``: the cached value, or ``load()`` when missing or older than ``seconds``.

    ``seconds <= 0`` disables caching (every call loads). ``max_entries`` bounds memory: when it is
    reached the whole cache is dropped, which keeps the structure trivial and costs one reload each.
    """

    def __init__(self, seconds: float, max_entries: int = 100_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def peek(self, key: K) -> V | Missing:
        """The cached value for ``key`` without loading, or :data:`MISSING`."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return MISSING
        return entry[1]

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The value for ``key``, loading it when absent or expired."""
        if self.seconds <= 0:
            return load()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            generation = self._generation
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        with self._lock:
            if generation != self._generation:
                return value  # cleared while loading: the value may predate the change
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now + self.seconds, value)
        return value

    def clear(self) -> None:
        """Forget everything (after a change made through this process)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1
