"""An operator's decisions on objections and repair requests, with the refresh that follows
every change (listings, corrections to relying parties). The API
(``POST /v1/objections/{id}/decision``, ``/v1/repairs/{id}/decision``) and the console's forms run
these same functions."""

from __future__ import annotations

from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.due_process.objections import Objection, decide_objection
from xinyong.due_process.repairs import Repair, decide_repair
from xinyong.ledger.database import WRITE_LOCK

__all__ = ["review_objection", "review_repair"]


def review_objection(
    ctx: Context, objection_id: str, *, uphold: bool, reason: str, operator: str
) -> tuple[Objection, int]:
    """Uphold or reject an objection; return it and the number of corrections queued.

    Raises NotFound (no such objection), AlreadyDecided or NotAllowed (no written reason).
    """
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        objection = decide_objection(
            conn,
            objection_id,
            uphold=uphold,
            reason=reason,
            operator=operator,
            today=ctx.today(),
            active=ctx.active_schemes(conn),
        )
    return objection, len(after_changes(ctx, [objection.subject_id]))


def review_repair(
    ctx: Context, repair_id: str, *, approve: bool, reason: str, operator: str
) -> tuple[Repair, int]:
    """Approve or reject a repair request; return it and the number of corrections queued.

    Raises NotFound (no such request), AlreadyDecided or NotAllowed (no written reason).
    """
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        repair = decide_repair(
            conn,
            repair_id,
            approve=approve,
            reason=reason,
            operator=operator,
            today=ctx.today(),
            active=ctx.active_schemes(conn),
        )
    return repair, len(after_changes(ctx, [repair.subject_id]))
