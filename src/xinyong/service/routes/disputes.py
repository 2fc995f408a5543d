"""A source's part in disputes of the records it furnished: the open ones (also pushed to its
webhook), and its answer with evidence (a refused answer is answered by
:mod:`xinyong.service.refusals`: 404, 409, 422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role
from xinyong.application.review import answer_source_dispute
from xinyong.domain.text import PLAIN_TEXT_PATTERN
from xinyong.due_process.disputes import Verdict
from xinyong.due_process.objections import list_objections
from xinyong.service.auth import principal_of, roles
from xinyong.service.dependencies import context
from xinyong.service.json_route import StrictJsonRoute

router = APIRouter(prefix="/v1/disputes", tags=["sources"], route_class=StrictJsonRoute)
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


class AnswerIn(BaseModel):
    """A source's answer to a dispute of one of its records."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict = Field(
        description="accurate: the record stands as furnished (the operator decides, seeing "
        "this answer); inaccurate: the record is revoked at once and the objection upheld."
    )
    statement: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=5000)
    evidence: str | None = Field(pattern=PLAIN_TEXT_PATTERN, default=None, max_length=5000)


@router.get("", **roles(Role.SOURCE))
def my_disputes(ctx: Ctx, caller: Caller, status: str | None = "open") -> list[dict[str, object]]:
    """Objections to the caller's records (default: the open ones), by deadline."""
    with ctx.engine.connect() as conn:
        return [o.json() for o in list_objections(conn, status=status, source=caller.name)]


@router.post("/{objection_id}/answer", operation_id="answer_dispute", **roles(Role.SOURCE))
def answer(ctx: Ctx, caller: Caller, objection_id: str, body: AnswerIn) -> dict[str, object]:
    """Answer a dispute of one of the caller's records, once, while it is open (404 for a
    dispute of another source's record, 409 once answered or decided)."""
    objection, corrections = answer_source_dispute(
        ctx,
        caller.name,
        objection_id,
        verdict=body.verdict,
        statement=body.statement,
        evidence=body.evidence,
    )
    return {**objection.json(), "corrections_queued": corrections}
