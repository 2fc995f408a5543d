"""The subject's own file: records and their status, standings with explanations, lists,
measures, every check made on them, notices; objections (and information added to them),
repair requests, requests for human review and appeals (a refused one is answered by
:mod:`xinyong.service.refusals`: 422)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from xinyong.application.context import Context
from xinyong.application.credit_report import subject_report
from xinyong.application.filing import (
    add_objection_information,
    file_subject_appeal,
    file_subject_objection,
    file_subject_repair,
    file_subject_review,
)
from xinyong.application.keys import Principal, Role
from xinyong.application.subject_file import subject_file
from xinyong.domain.text import PLAIN_TEXT_PATTERN
from xinyong.due_process.appeals import list_appeals
from xinyong.due_process.objections import list_objections
from xinyong.due_process.reviews import list_reviews
from xinyong.service.auth import principal_of, roles
from xinyong.service.dependencies import context
from xinyong.service.json_route import StrictJsonRoute
from xinyong.service.links import link, linked
from xinyong.service.reports import report_response

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


class InformationIn(BaseModel):
    """Information added to one's open objection (sent to the source; extends the deadline
    once)."""

    model_config = ConfigDict(extra="forbid")

    information: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=5000)


class ReviewIn(BaseModel):
    """A request for a person to review a decision about oneself."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["check", "listing", "standing"] = Field(
        description="check: an answer a relying party received; listing: a place on a list; "
        "standing: the score and grade under a scheme."
    )
    target: str = Field(
        pattern=PLAIN_TEXT_PATTERN,
        min_length=1,
        max_length=300,
        description="The check's decision id, SCHEME/LIST, or the scheme's id.",
    )
    reason: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=5000)


class AppealIn(BaseModel):
    """An appeal of a rejected objection or repair request."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["objection", "repair"]
    id: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=36)
    reason: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=5000)


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


@router.post(
    "/objections/{objection_id}/information",
    operation_id="add_objection_information",
    **roles(Role.SUBJECT),
)
def add_information(
    ctx: Ctx, caller: Caller, objection_id: str, body: InformationIn
) -> dict[str, object]:
    """Add information to one's open objection before its deadline: the source is told, and
    the deadline extends once (setting ``dispute_extension_days``, 15)."""
    objection = add_objection_information(ctx, caller.name, objection_id, body.information)
    return objection.json()


@router.post(
    "/reviews",
    status_code=201,
    **roles(Role.SUBJECT),
    **linked(201, "The request filed", Decide=link("decide_review", review_id="review_id")),
)
def ask_review(ctx: Ctx, caller: Caller, body: ReviewIn) -> dict[str, object]:
    """Ask for a person, not a program, to review a check, a listing or a standing about you;
    an operator decides by the deadline (setting ``review_days``, 15), with a written reason."""
    review = file_subject_review(ctx, caller.name, body.kind, body.target, body.reason)
    return review.json()


@router.get("/reviews", **roles(Role.SUBJECT))
def my_reviews(ctx: Ctx, caller: Caller) -> list[dict[str, object]]:
    """The caller's requests for review and their state."""
    with ctx.engine.connect() as conn:
        return [r.json() for r in list_reviews(conn, subject_id=caller.name)]


@router.post(
    "/appeals",
    status_code=201,
    **roles(Role.SUBJECT),
    **linked(201, "The appeal filed", Decide=link("decide_appeal", appeal_id="appeal_id")),
)
def appeal(ctx: Ctx, caller: Caller, body: AppealIn) -> dict[str, object]:
    """Appeal a rejected objection or repair request, once, within the appeal period (setting
    ``appeal_days``, 15); an operator other than the first decides."""
    filed = file_subject_appeal(ctx, caller.name, body.kind, body.id, body.reason)
    return filed.json()


@router.get("/appeals", **roles(Role.SUBJECT))
def my_appeals(ctx: Ctx, caller: Caller) -> list[dict[str, object]]:
    """The caller's appeals and their state."""
    with ctx.engine.connect() as conn:
        return [a.json() for a in list_appeals(conn, subject_id=caller.name)]


@router.get(
    "/report",
    response_class=HTMLResponse,
    **roles(Role.SUBJECT),
    responses={200: {"content": {"text/html": {}}}},
)
def my_report(ctx: Ctx, caller: Caller) -> HTMLResponse:
    """The caller's file as one self-contained HTML report that proves itself: records with
    inclusion proofs, checks with their signed receipts, the signed checkpoint. Check it offline
    with ``xinyong verify report FILE --key KEYFILE`` (docs/verify.md)."""
    return report_response(ctx, subject_report, caller.name)
