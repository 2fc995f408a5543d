"""Verifying the whole ledger at once: its entries and checkpoints, the operations log with
every operational row against its newest logged state, and the inquiry log; as ``xinyong ledger
verify`` and the operator console's verification page both run it, in one snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from xinyong.ledger.append import TreeHead
from xinyong.ledger.inquiry_tree import verify_inquiries
from xinyong.ledger.operations import verify_operations
from xinyong.ledger.verify import Problem, Verification, verify_ledger

__all__ = ["Verified", "verify_all"]


@dataclass(frozen=True, slots=True)
class Verified:
    """The three logs' verifications."""

    ledger: Verification
    operations: Verification
    inquiries: Verification

    @property
    def problems(self) -> list[Problem]:
        """Every problem found, the ledger's first."""
        return [*self.ledger.problems, *self.operations.problems, *self.inquiries.problems]

    @property
    def truncated(self) -> bool:
        """Whether a log had more problems than it lists."""
        return self.ledger.truncated or self.operations.truncated or self.inquiries.truncated


def verify_all(
    conn: Connection,
    against: tuple[TreeHead | None, TreeHead | None, TreeHead | None] = (None, None, None),
    progress: Callable[[int], None] | None = None,
) -> Verified:
    """Verify the ledger, the operations log and the inquiry log on ``conn`` (in one snapshot:
    the caller's transaction), each consistent with its head in ``against`` when given;
    ``progress`` is told the ledger's entries verified so far."""
    ledger, operations, inquiries = against
    return Verified(
        verify_ledger(conn, ledger, progress=progress),
        verify_operations(conn, operations),
        verify_inquiries(conn, inquiries),
    )
