"""Checks for relying parties, and decision replay for operators and the decision's subject."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from xinyong.decisions.checks import Decision, NotRegistered, UnknownMeasure, decide_measure
from xinyong.decisions.replay import UnknownDecision, replay_decision
from xinyong.peer.pseudonyms import RaterLabels
from xinyong.scoring.explanation import explanation_json
from xinyong.service.auth import principal_of, roles
from xinyong.service.context import Context, context
from xinyong.service.keys import Principal, Role

router = APIRouter(prefix="/v1")
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


class CheckAnswer(BaseModel):
    """The whole answer to a check: yes or no, and what makes it replayable."""

    decision_id: str
    subject: str
    measure: str
    applies: bool
    scheme: str
    version: str
    as_of: date
    made_at: str


@router.get("/checks", tags=["relying parties"], response_model=CheckAnswer, **roles(Role.RELYING))
async def check(
    ctx: Ctx,
    caller: Caller,
    subject: Annotated[str, Query(min_length=1, max_length=128, description="Full subject id.")],
    measure: Annotated[str, Query(min_length=1, max_length=128)],
) -> Response:
    """Does measure M apply to subject S now? Yes or no, with the decision id; nothing more.

    The decision is committed to the inquiry log before this answers (group commit: concurrent
    checks share one transaction, and each waits for it).
    """
    wait = ctx.buckets.take(caller.name)
    if wait > 0:
        raise HTTPException(
            429, "rate limit exceeded", headers={"Retry-After": str(max(1, round(wait + 0.5)))}
        )
    try:
        if ctx.local_database:
            decision, notice = _decide(ctx, caller.name, subject, measure)
        else:
            decision, notice = await run_in_threadpool(_decide, ctx, caller.name, subject, measure)
    except NotRegistered as exc:
        raise HTTPException(403, str(exc)) from exc
    except UnknownMeasure as exc:
        raise HTTPException(404, str(exc)) from exc
    await asyncio.wrap_future(ctx.inquiries.submit(decision, notice))
    return Response(
        orjson.dumps(decision.public()),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _decide(
    ctx: Context, relying_party: str, subject: str, measure: str
) -> tuple[Decision, dict[str, object] | None]:
    """Decide in a read transaction: it never blocks writers, and nothing is written here."""
    with ctx.engine.connect() as conn, conn.begin():
        return decide_measure(
            conn,
            ctx.registry,
            relying_party,
            subject,
            measure,
            ctx.today(),
            ctx.catalog,
            ctx.registrations,
        )


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
        # The subject sees the raters behind a peer score by pseudonym only.
        raters = RaterLabels() if caller.role is Role.SUBJECT else None
        explanation = explanation_json(replay.explanation, replay.decision.version, raters)
    return {
        **replay.decision.public(),
        "relying_party": replay.decision.relying_party,
        "known_at": replay.decision.known_at,
        "replayed_applies": replay.applies,
        "reproduced": replay.reproduced,
        "explanation": explanation,
    }
