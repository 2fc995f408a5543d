"""Reading ahead: the next item of an iterator made in a background thread while the caller
works on the current one.

An ingest reads and validates a batch (Arrow decoding, Python checks) and then appends it
(hashing, the database's inserts and commit). While the database works, the GIL is free: the
SQLite driver releases it inside ``sqlite3_step`` and the commit, psycopg while it waits for the
server. Validating the next batch meanwhile overlaps the two.

Only reading moves to the thread: the iterator must not touch the database or shared state (the
ingest's validation is a pure function of the file, the catalog and the day). Items come out
in order, exceptions come out where the item would have, and at most one item is made ahead, so
memory grows by one batch. A process killed at any moment loses only items that nothing has
acknowledged yet.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from itertools import pairwise
from typing import Protocol, Self, TypeVar

__all__ = ["RAMP_FROM", "ramp_up", "read_ahead"]

T = TypeVar("T")


class _Cuttable(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, part: slice, /) -> Self: ...


B = TypeVar("B", bound=_Cuttable)

RAMP_FROM = 4_096
"""The least batch size whose first batch :func:`ramp_up` cuts."""
_RAMP_STEPS = 4
"""The first batch in parts of 1/16, 1/16, 1/8, 1/4 and 1/2 of it."""


def ramp_up(batches: Iterable[B]) -> Iterator[B]:
    """``batches``, with the first (if of :data:`RAMP_FROM` items or more) cut into parts that
    double in size, so that a pipeline of a reader and a writer fills quickly: the writer, which
    waits for the whole first batch to be read, validated and hashed, starts on a sixteenth of
    it, and each part is read while the writer writes the part before, which is half its size.
    (Where a batch is a transaction, what is stored and told does not depend on where batches
    end, but the positions do: subjects are registered batch by batch.)"""
    items = iter(batches)
    first = next(items, None)
    if first is None:
        return
    size = len(first)
    if size < RAMP_FROM:
        yield first
    else:
        ends = [0, *(size >> step for step in range(_RAMP_STEPS, 0, -1)), size]
        for start, end in pairwise(ends):
            yield first[start:end]
    yield from items


_END = object()


def read_ahead(items: Iterator[T], *, name: str = "read-ahead") -> Generator[T, None, None]:
    """The items of ``items`` in order, each made while the caller handles the one before.

    Closing the returned generator (or leaving a ``for`` loop over it early) waits for the item
    being made, then closes ``items``.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        pending: Future[object] | None = None  # Ctrl-C may come before the first is submitted
        try:
            pending = pool.submit(next, items, _END)
            while True:
                item = pending.result()
                if item is _END:
                    return
                pending = pool.submit(next, items, _END)
                yield item  # type: ignore[misc]
        finally:
            try:
                if pending is not None:
                    _settle(pending)
            finally:  # even after a second Ctrl-C: the thread has left the source by now
                close = getattr(items, "close", None)
                if close is not None:
                    close()


def _settle(pending: Future[object]) -> None:
    """Cancel the item being made, or wait until it is made (and drop it, or its error): the
    source may be closed only once no thread is inside it. A second Ctrl-C while waiting is
    raised once the wait is over."""
    pending.cancel()
    interrupted: BaseException | None = None
    while not pending.done():
        try:
            wait([pending])
        except BaseException as exc:  # re-raised below, after the wait
            interrupted = exc
    if interrupted is not None:
        raise interrupted
