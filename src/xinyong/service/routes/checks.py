"""Checks for relying parties, and decision replay for operators and the decision's subject."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from xinyong.decisions.checks import (
    NotRegistered,
    UnknownMeasure,
    decide_measure,
    log_decision,
)
from xinyong.decisions.replay import UnknownDecision, replay_decision
from xinyong.ledger.database import WRITE_LOCK
from xinyong.scoring.explanation import explanation_json
from xinyong.service.auth import principal_of, roles
from xinyong.service.context import Context, context
from xinyong.service.keys import Principal, Role

router = APIRouter(prefix="/v1")
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


@router.get("/checks", tags=["relying parties"], **roles(Role.RELYING))
def check(
    ctx: Ctx,
    caller: Caller,
    response: Response,
    subject: Annotated[str, Query(min_length=1, max_length=128, description="Full subject id.")],
    measure: Annotated[str, Query(min_length=1, max_length=128)],
) -> dict[str, Any]:
    """Does measure M apply to subject S now? Yes or no, with the decision id; nothing more."""
    wait = ctx.buckets.take(caller.name)
    if wait > 0:
        raise HTTPException(
            429, "rate limit exceeded", headers={"Retry-After": str(max(1, round(wait + 0.5)))}
        )
    try:
        # Decide in a read transaction, then log in a short write transaction that takes the
        # write lock up front: upgrading a SQLite read transaction to a write fails at once
        # ("database is locked") whenever another check committed in between.
        with ctx.engine.connect() as conn, conn.begin():
            decision, notice = decide_measure(
                conn, ctx.registry, caller.name, subject, measure, ctx.today(), ctx.catalog
            )
    except NotRegistered as exc:
        raise HTTPException(403, str(exc)) from exc
    except UnknownMeasure as exc:
        raise HTTPException(404, str(exc)) from exc
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        log_decision(conn, decision, notice)
    response.headers["Cache-Control"] = "no-store"
    return decision.public()


@router.get("/decisions/{decision_id}", tags=["decisions"], **roles(Role.OPERATOR, Role.SUBJECT))
def decision(ctx: Ctx, caller: Caller, decision_id: str) -> dict[str, Any]:
    """Replay a decision exactly as it was made, with its explanation."""
    try:
        with ctx.engine.connect() as conn:
            replay = replay_decision(conn, ctx.registry, decision_id, ctx.catalog)
    except UnknownDecision as exc:
        raise HTTPException(404, "no such decision") from exc
    if caller.role is Role.SUBJECT and replay.decision.subject_id != caller.name:
        raise HTTPException(404, "no such decision")
    explanation = None
    if replay.explanation is not None:
        explanation = explanation_json(replay.explanation, replay.decision.version)
    return {
        **replay.decision.public(),
        "relying_party": replay.decision.relying_party,
        "known_at": replay.decision.known_at,
        "replayed_applies": replay.applies,
        "reproduced": replay.reproduced,
        "explanation": explanation,
    }
