"""One proof computation at a time per process.

The first proof of a process reads every leaf hash of the ledger (:mod:`xinyong.ledger.proofs`),
and later ones read a few blocks each; neither may crowd out checks. Inclusion and consistency
proofs, and the credit reports that carry them, hold the process's one slot while they work;
a request that finds it taken is refused (:class:`ProofBusy`: 503 with Retry-After).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from xinyong.ledger.proofs import warm

__all__ = ["ProofBusy", "Warming", "proof_slot"]

log = logging.getLogger("xinyong.proofs")

_PROVING = threading.BoundedSemaphore(1)


class ProofBusy(RuntimeError):
    """Another proof is being computed in this process."""

    def __init__(self) -> None:
        super().__init__("another proof is being computed; try again")


@contextmanager
def proof_slot() -> Iterator[None]:
    """Hold the process's one proof slot; :class:`ProofBusy` when it is taken."""
    if not _PROVING.acquire(blocking=False):
        raise ProofBusy
    try:
        yield
    finally:
        _PROVING.release()


class Warming:
    """The ledger's subtrees kept in a background thread (:func:`xinyong.ledger.proofs.warm`),
    so that the first adverse check of a process, whose receipt proves its grounds, does not
    read every leaf hash itself. A failure is logged and left to the first proof to meet.

    :meth:`stop` ends the work at the next block and waits for the thread: a process shutting
    down disposes of the engine next, and a connection still out in this thread would be put
    back into a pool nobody closes."""

    def __init__(self, engine: Engine) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(engine,), name="xinyong-warm-proofs", daemon=True
        )
        self._thread.start()

    def _run(self, engine: Engine) -> None:
        try:
            with engine.connect() as conn:
                warm(conn, stopped=self._stopping.is_set)
        except Exception:
            log.warning("the ledger's subtrees could not be kept ahead of proofs", exc_info=True)

    def stop(self) -> None:
        """Stop at the next block (one block's read) and wait for the thread."""
        self._stopping.set()
        self._thread.join()

    @property
    def running(self) -> bool:
        """The thread has not finished."""
        return self._thread.is_alive()
