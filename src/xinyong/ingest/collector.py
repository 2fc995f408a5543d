"""The garbage collector during a bulk load: fewer collections.

A load allocates several container objects per row (the row's tuple, its key, its line) that
live until their batch is appended. CPython's collector counts them and, every 700 of them,
walks each object of its youngest generation that is still alive, and every tenth time those
of the middle generation too: about a second of a million-row load, spent holding the lock
that the reading and the appending threads share (docs/benchmarks.md). While a load runs,
:func:`fewer_collections` lets the youngest generation grow to 100,000 objects (about a batch's
rows) before it is collected, and freezes what the process held before the load (modules, the
catalog) so that a full collection does not walk it. Reference cycles that become garbage are
still collected, a batch or so later; the previous settings come back when the last load
running in the process ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["fewer_collections"]

YOUNG = 100_000
"""Objects allocated (less those freed) between two collections of the youngest generation."""


class _Loads:
    """The loads running in the process, and the settings from before the first of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.thresholds = gc.get_threshold()
        self.froze = False

    def start(self) -> None:
        with self.lock:
            if self.running == 0:
                self.thresholds = gc.get_threshold()
                self.froze = gc.get_freeze_count() == 0  # else the process manages its own
                if self.froze:
                    gc.freeze()
                if self.thresholds[0]:  # 0: collection is off, and stays off
                    young, *older = self.thresholds
                    gc.set_threshold(max(young, YOUNG), *older)
            self.running += 1

    def end(self) -> None:
        with self.lock:
            self.running -= 1
            if self.running == 0:
                gc.set_threshold(*self.thresholds)
                if self.froze:
                    gc.unfreeze()


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
