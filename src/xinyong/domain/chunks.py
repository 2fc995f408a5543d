"""Splitting an id list for ``IN (...)`` queries: each statement stays far below the drivers'
parameter limits (SQLite allows 32,766 by default) and the planners' cost of long lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

__all__ = ["IN_CHUNK", "chunked"]

IN_CHUNK = 500
"""Ids per ``IN`` list."""

T = TypeVar("T")


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` of at most ``size`` (the last may be shorter)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]
