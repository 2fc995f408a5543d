"""The garbage collector during a bulk load: fewer collections.

A load allocates several container objects per row (the row's tuple, its key, its line) that
live until their batch is appended. CPython's collector counts them and, every 700 of them,
walks each object of its youngest generation that is still alive, and every tenth time those
of the middle generation too: about a second of a million-row load, spent holding the lock
that the reading and the appending threads share (docs/benchmarks.md). While a load runs,
:func:`fewer_collections` lets the youngest generation grow to 100,000 objects (about a batch's
rows) before it is collected; the older generations are collected as often as before, in
proportion. Reference cycles that become garbage are still collected, a batch or so later. The
previous setting comes back when the last load running in the process ends, unless someone
else has changed it since.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG", "fewer_collections"]

YOUNG = 100_000
"""Objects allocated (less those freed) between two collections of the youngest generation."""


class _Loads:
    """The loads running in the process, the setting from before the first of them, and the
    one it set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.before: tuple[int, ...] = gc.get_threshold()
        self.set: tuple[int, ...] = self.before

    def start(self) -> None:
        with self.lock:
            if self.running == 0:
                self.before = gc.get_threshold()
                young, *older = self.before
                self.set = (max(young, YOUNG), *older) if young else self.before  # 0: off
                try:
                    gc.set_threshold(*self.set)
                    self.running = 1
                except BaseException:  # a Ctrl-C just after the change: as it was
                    self._restore()
                    raise
            else:
                self.running += 1

    def end(self) -> None:
        with self.lock:
            if self.running == 1:
                self._restore()
            self.running -= 1

    def _restore(self) -> None:
        if gc.get_threshold() == self.set:  # else someone has set their own since
            gc.set_threshold(*self.before)


_LOADS = _Loads()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often while the block runs. Loads in several threads share one
    setting: the first to start sets it, the last to end restores it."""
    _LOADS.start()
    try:
        yield
    finally:
        _LOADS.end()
