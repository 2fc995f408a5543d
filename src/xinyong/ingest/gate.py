"""A gate between the thread that appends a load's batches and the thread that reads ahead.

The reading thread may decide a batch ahead of its append (whether its rows are new, which
subjects it registers) only from the state that every batch before it has left: it waits here
until the appending thread has *settled* those batches, that is, decided them for good under
the ledger's write lock. Closing the gate (the load ended, failed or was interrupted) releases
a reading thread that waits, which then stops.
"""

from __future__ import annotations

import threading
from types import TracebackType

__all__ = ["Gate"]


class Gate:
    """Counts the batches the appending thread has settled; the reading thread waits for a
    count."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._settled = 0
        self._closed = False

    def settle(self, count: int) -> None:
        """The first ``count`` batches are settled (a count already reached changes nothing)."""
        with self._condition:
            if count > self._settled:
                self._settled = count
                self._condition.notify_all()

    def wait(self, count: int) -> bool:
        """Wait until the first ``count`` batches are settled (True) or the gate is closed
        (False)."""
        with self._condition:
            self._condition.wait_for(lambda: self._closed or self._settled >= count)
            return not self._closed

    def close(self) -> None:
        """Release every wait, now and later."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def __enter__(self) -> Gate:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
