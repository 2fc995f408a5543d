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

__all__ = ["ProofBusy", "proof_slot", "warm_in_background"]

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


def warm_in_background(engine: Engine) -> threading.Thread:
    """Keep the ledger's subtrees in a background thread (:func:`xinyong.ledger.proofs.warm`),
    so that the first adverse check of a process, whose receipt proves its grounds, does not
    read every leaf hash itself. A failure is logged and left to the first proof to meet."""

    def run() -> None:
        try:
            with engine.connect() as conn:
                warm(conn)
        except Exception:
            log.warning("the ledger's subtrees could not be kept ahead of proofs", exc_info=True)

    thread = threading.Thread(target=run, name="xinyong-warm-proofs", daemon=True)
    thread.start()
    return thread
