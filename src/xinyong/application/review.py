"""Decisions in due process, with the refresh that follows every change (listings, corrections
to relying parties): an operator's on objections, repair requests, requests for human review
and appeals, and a source's answer to a dispute. The API (``POST /v1/objections/{id}/decision``,
``/v1/repairs/...``, ``/v1/reviews/...``, ``/v1/appeals/...``, ``/v1/disputes/{id}/answer``) and
the console's forms run these same functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy import Connection

from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.appeals import Appeal, decide_appeal
from xinyong.due_process.deciders import Decider
from xinyong.due_process.disputes import Verdict, answer_dispute
from xinyong.due_process.objections import Objection, decide_objection
from xinyong.due_process.repairs import Repair, decide_repair
from xinyong.due_process.reviews import Review, decide_review
from xinyong.ledger.database import WRITE_LOCK

__all__ = [
    "answer_source_dispute",
    "review_appeal",
    "review_objection",
    "review_repair",
    "review_request",
]


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


def review_request(
    ctx: Context,
    review_id: str,
    *,
    change: bool,
    reason: str,
    operator: str,
    void: Sequence[str] = (),
) -> tuple[Review, int]:
    """Decide a request for human review: confirm, or change by voiding the records in
    ``void``; return it and the number of corrections queued.

    Raises NotFound, AlreadyDecided or NotAllowed (no reason, a change voiding nothing, a
    record not the subject's).
    """
    return _review(
        ctx,
        lambda conn, active: decide_review(
            conn,
            review_id,
            change=change,
            reason=reason,
            operator=operator,
            void=void,
            today=ctx.today(),
            active=active,
        ),
    )


def review_appeal(
    ctx: Context, appeal_id: str, *, grant: bool, reason: str, decider: Decider
) -> tuple[Appeal, int]:
    """Grant or dismiss an appeal; return it and the number of corrections queued.

    Raises NotFound, AlreadyDecided or NotAllowed (no reason, ``decider`` made the decision
    appealed or has no name on their key).
    """
    return _review(
        ctx,
        lambda conn, active: decide_appeal(
            conn,
            appeal_id,
            grant=grant,
            reason=reason,
            decider=decider,
            today=ctx.today(),
            active=active,
        ),
    )


def answer_source_dispute(
    ctx: Context,
    source: str,
    objection_id: str,
    *,
    verdict: Verdict,
    statement: str,
    evidence: str | None,
) -> tuple[Objection, int]:
    """A source's answer to a dispute of its record; return the objection (upheld when the
    source found the record inaccurate) and the number of corrections queued."""
    return _review(
        ctx,
        lambda conn, active: answer_dispute(
            conn,
            source,
            objection_id,
            verdict=verdict,
            statement=statement,
            evidence=evidence,
            today=ctx.today(),
            active=active,
        ),
    )
