"""An operator's decisions on objections and repair requests, with the refresh that follows
every change (listings, corrections to relying parties). The API
(``POST /v1/objections/{id}/decision``, ``/v1/repairs/{id}/decision``) and the console's forms run
these same functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy import Connection

from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.objections import Objection, decide_objection
from xinyong.due_process.repairs import Repair, decide_repair
from xinyong.ledger.database import WRITE_LOCK

__all__ = ["review_objection", "review_repair"]


class _Decided(Protocol):
    @property
    def subject_id(self) -> str: ...


T = TypeVar("T", bound=_Decided)


def _review(ctx: Context, decide: Callable[[Connection, ActiveSchemes], T]) -> tuple[T, int]:
    """The one flow of a review: decide under the append lock, then refresh the subject and
    queue corrections; return the decided item and the number of corrections queued."""
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        decided = decide(conn, ctx.active_schemes(conn))
    return decided, len(after_changes(ctx, [decided.subject_id]))


def review_objection(
    ctx: Context, objection_id: str, *, uphold: bool, reason: str, operator: str
) -> tuple[Objection, int]:
    """Uphold or reject an objection; return it and the number of corrections queued.

    Raises NotFound (no such objection), AlreadyDecided or NotAllowed (no written reason).
    """
    return _review(
        ctx,
        lambda conn, active: decide_objection(
            conn,
            objection_id,
            uphold=uphold,
            reason=reason,
            operator=operator,
            today=ctx.today(),
            active=active,
        ),
    )


def review_repair(
    ctx: Context, repair_id: str, *, approve: bool, reason: str, operator: str
) -> tuple[Repair, int]:
    """Approve or reject a repair request; return it and the number of corrections queued.

    Raises NotFound (no such request), AlreadyDecided or NotAllowed (no written reason).
    """
    return _review(
        ctx,
        lambda conn, active: decide_repair(
            conn,
            repair_id,
            approve=approve,
            reason=reason,
            operator=operator,
            today=ctx.today(),
            active=active,
        ),
    )
