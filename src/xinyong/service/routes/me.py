"""The subject's own file: records and their status, standings with explanations, lists,
measures, every check made on them, notices; objections and repair requests (a refused one is
answered by :mod:`xinyong.service.refusals`: 422)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from xinyong.application.context import Context
from xinyong.application.filing import file_subject_objection, file_subject_repair
from xinyong.application.keys import Principal, Role
from xinyong.application.subject_file import subject_file
from xinyong.domain.text import PLAIN_TEXT_PATTERN
from xinyong.due_process.objections import list_objections
from xinyong.service.auth import principal_of, roles
from xinyong.service.dependencies import context
from xinyong.service.json_route import StrictJsonRoute
from xinyong.service.links import link, linked

router = APIRouter(prefix="/v1/me", tags=["subjects"], route_class=StrictJsonRoute)
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


class ObjectionIn(BaseModel):
    """An objection to one record of one's own file."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=64)
    record_id: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=200)
    reason: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=5000)
    evidence: str | None = Field(pattern=PLAIN_TEXT_PATTERN, default=None, max_length=5000)


class RepairIn(BaseModel):
    """A credit repair request for one record of one's own file."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=64)
    record_id: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=200)
    reason: str = Field(pattern=PLAIN_TEXT_PATTERN, default="", max_length=5000)


@router.get("", **roles(Role.SUBJECT))
def my_file(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Everything the ledger holds about the caller, and everyone who checked them."""
    with ctx.engine.connect() as conn:
        return subject_file(conn, ctx, caller.name)


@router.post(
    "/objections",
    status_code=201,
    **roles(Role.SUBJECT),
    **linked(
        201, "The objection filed", Decide=link("decide_objection", objection_id="objection_id")
    ),
)
def object_to_record(ctx: Ctx, caller: Caller, body: ObjectionIn) -> dict[str, object]:
    """Object to a record; the operator must decide by the deadline."""
    objection = file_subject_objection(
        ctx, caller.name, body.source, body.record_id, body.reason, body.evidence
    )
    return objection.json()


@router.get("/objections", **roles(Role.SUBJECT))
def my_objections(ctx: Ctx, caller: Caller) -> list[dict[str, object]]:
    """The caller's objections and their state."""
    with ctx.engine.connect() as conn:
        return [o.json() for o in list_objections(conn, subject_id=caller.name)]


@router.post(
    "/repairs",
    status_code=201,
    **roles(Role.SUBJECT),
    **linked(201, "The request filed", Decide=link("decide_repair", repair_id="repair_id")),
)
def ask_repair(ctx: Ctx, caller: Caller, body: RepairIn) -> dict[str, object]:
    """Apply for credit repair of a record past its minimum display period."""
    repair = file_subject_repair(ctx, caller.name, body.source, body.record_id, body.reason)
    return repair.json()
