"""Work a transaction leaves to its commit: placing entries in the ledger's side trees.

The operations log (:mod:`xinyong.ledger.operations`) and the inquiry log's tree
(:mod:`xinyong.ledger.inquiry_tree`) are each extended under a lock of their own, held until the
commit. Taken where the rows are written, such a lock would be held for the rest of the
transaction (a correction logged early in a long ledger transaction would hold every check's
commit), and two transactions taking the locks in different orders could wait for each other.
So a writer registers the work with :func:`at_commit`, and one listener on the engine's commit
runs it just before the commit, in a fixed order (:data:`INQUIRIES`, then :data:`OPERATIONS`),
after every other lock the transaction took. The work and the transaction commit together or not
at all; a rollback forgets it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import Connection, Engine, event

__all__ = ["INQUIRIES", "OPERATIONS", "at_commit"]

INQUIRIES: Final = 1
"""The order of the inquiry log's work: first."""
OPERATIONS: Final = 2
"""The order of the operations log's work: last (placing checks writes no operational row)."""

Flush = Callable[[Connection, list[Any]], None]

_PENDING: Final = "xinyong_at_commit"
"""Key in a connection's ``info`` of the work left to its commit (``info`` outlives the
transaction, so a rollback must forget it)."""
_WATCHED: weakref.WeakSet[Engine] = weakref.WeakSet()
_WATCHING = threading.Lock()


def at_commit(conn: Connection, order: int, flush: Flush, item: object) -> None:
    """Have ``flush(conn, items)`` run just before ``conn``'s transaction commits, with every
    ``item`` registered under ``order`` in this transaction, in registration order."""
    engine = conn.engine
    if engine not in _WATCHED:
        with _WATCHING:
            if engine not in _WATCHED:
                event.listen(engine, "commit", _flush)
                event.listen(engine, "rollback", _forget)
                _WATCHED.add(engine)
    pending: dict[int, tuple[Flush, list[Any]]] = conn.info.setdefault(_PENDING, {})
    pending.setdefault(order, (flush, []))[1].append(item)


def _flush(conn: Connection) -> None:
    pending: dict[int, tuple[Flush, list[Any]]] | None = conn.info.pop(_PENDING, None)
    for order in sorted(pending or ()):
        flush, items = pending[order]  # type: ignore[index]
        flush(conn, items)


def _forget(conn: Connection) -> None:
    conn.info.pop(_PENDING, None)
