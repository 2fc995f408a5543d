"""Operator routes: schemes, catalog, keys, relying parties, review of objections and repairs
(a refused decision or key is answered by :mod:`xinyong.service.refusals`)."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role, create_key, revoke_key
from xinyong.application.relying import register
from xinyong.application.review import (
    review_appeal,
    review_objection,
    review_repair,
    review_request,
)
from xinyong.application.scheme_gate import store_and_activate
from xinyong.application.sweeps import sweep_once
from xinyong.decisions.relying import rotate_webhook_secret
from xinyong.domain.text import PLAIN_TEXT_PATTERN
from xinyong.due_process.appeals import list_appeals
from xinyong.due_process.disputes import register_source_webhook
from xinyong.due_process.objections import list_objections
from xinyong.due_process.repairs import list_repairs
from xinyong.due_process.reviews import list_reviews
from xinyong.ledger.append import read_head
from xinyong.ledger.database import WRITE, hold_lock
from xinyong.schemes.issues import SchemeError
from xinyong.schemes.lint import lint
from xinyong.schemes.load import parse_scheme
from xinyong.schemes.overrides import (
    MAX_OFFICIAL,
    MAX_REASON,
    Override,
    OverrideError,
    make_override,
)
from xinyong.scoring.store import (
    GuardrailsUnmet,
    MeasureTaken,
    SchemeRefused,
    UnknownScheme,
    deactivate_scheme,
    recorded_overrides,
    stored_versions,
)
from xinyong.service.auth import principal_of, roles
from xinyong.service.dependencies import context
from xinyong.service.json_route import StrictJsonRoute
from xinyong.service.links import link, linked

router = APIRouter(prefix="/v1", tags=["operators"], route_class=StrictJsonRoute)
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


class Decision(BaseModel):
    """An operator's decision, always with a written reason."""

    model_config = ConfigDict(extra="forbid")

    accept: bool = Field(description="Uphold the objection / approve the repair.")
    reason: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=5000)


class ReviewDecision(BaseModel):
    """A reviewer's decision: confirm, or change by voiding the records found wrong."""

    model_config = ConfigDict(extra="forbid")

    change: bool = Field(description="Change the decision (void the records in `void`).")
    reason: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=5000)
    void: list[Annotated[str, Field(min_length=3, max_length=300, pattern=PLAIN_TEXT_PATTERN)]] = (
        Field(
            default_factory=list,
            max_length=1000,
            description="SOURCE/RECORD_ID of the subject's records that stop counting.",
        )
    )


class SourceIn(BaseModel):
    """Where a source is told of disputes of its records."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = Field(pattern=PLAIN_TEXT_PATTERN, default=None, max_length=2000)


class KeyIn(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["source", "relying", "subject"] = Field(
        description="Operator keys are made on the server (`xinyong keys create --role operator "
        "--name NAME`), never through the API: one operator cannot mint another's name, which "
        "appeals rely on."
    )
    name: str = Field(pattern=PLAIN_TEXT_PATTERN, default="", max_length=128)
    label: str = Field(pattern=PLAIN_TEXT_PATTERN, default="", max_length=200)


class RelyingPartyIn(BaseModel):
    """A relying party and the measures it may check (its permissible purpose)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=128)
    measures: list[
        Annotated[str, Field(min_length=1, max_length=128, pattern=PLAIN_TEXT_PATTERN)]
    ] = Field(min_length=1)
    purpose: str = Field(pattern=PLAIN_TEXT_PATTERN, min_length=1, max_length=2000)
    webhook_url: str | None = Field(pattern=PLAIN_TEXT_PATTERN, default=None, max_length=2000)


class OverrideIn(BaseModel):
    """Activate despite a guardrail finding: why, and who is responsible."""

    model_config = ConfigDict(extra="forbid")

    finding: str = Field(
        min_length=1,
        max_length=200,
        pattern=PLAIN_TEXT_PATTERN,
        description="A guardrail check (every finding of it), or CHECK@WHERE as a refusal "
        "lists the finding.",
    )
    reason: str = Field(min_length=1, max_length=MAX_REASON, pattern=PLAIN_TEXT_PATTERN)
    official: str = Field(
        min_length=1,
        max_length=MAX_OFFICIAL,
        pattern=PLAIN_TEXT_PATTERN,
        description="The name of the official responsible.",
    )


class SchemeIn(BaseModel):
    """A scheme to add, as JSON: its TOML source, and the overrides to activate it with."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, description="The scheme's TOML text.")
    activate: StrictBool = True
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=100)


class ActivateIn(BaseModel):
    """A stored version to make active, and the overrides to activate it with."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64, pattern=PLAIN_TEXT_PATTERN)
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=100)


@router.get("/schemes", **roles(Role.OPERATOR))
def list_schemes(ctx: Ctx) -> list[dict[str, object]]:
    """Stored scheme versions."""
    with ctx.engine.connect() as conn:
        return stored_versions(conn)


@router.get("/schemes/overrides", **roles(Role.OPERATOR))
def list_overrides(ctx: Ctx) -> list[dict[str, object]]:
    """Every override in the ledger: which version was activated despite which finding, why,
    by whom, and which operator recorded it."""
    with ctx.engine.connect() as conn:
        found = recorded_overrides(conn)
    return [
        {"scheme": r.scheme_id, "version": r.version, "operator": r.operator, **r.public()}
        for r in found
    ]


_SCHEME_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/toml": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    key: value
                    for key, value in SchemeIn.model_json_schema(
                        ref_template="#/components/schemas/{model}"
                    ).items()
                    if key != "$defs"  # OverrideIn is a component: ActivateIn uses it
                }
            },
        },
    }
}


def _with_body(route: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Route arguments with the request body documented besides the roles."""
    return {**route, "openapi_extra": {**route["openapi_extra"], **body}}


async def _scheme_in(request: Request) -> SchemeIn:
    """The body as TOML text (activate, no overrides), or as a :class:`SchemeIn` in JSON."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    if kind == "application/json":
        try:
            return SchemeIn.model_validate(await request.json())
        except json.JSONDecodeError as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ["body", exc.pos],
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": exc.msg},
                    }
                ]
            ) from exc
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors(include_url=False)]
            ) from exc
    try:
        return SchemeIn(source=body.decode("utf-8"))
    except (UnicodeDecodeError, ValidationError) as exc:
        raise HTTPException(422, "the body is not a scheme: send TOML text in UTF-8") from exc


def _gate_refusal(exc: Exception) -> HTTPException:
    """The answer when the activation gate refuses (422 with the findings, 409 a taken
    measure, 404 an unknown version)."""
    if isinstance(exc, GuardrailsUnmet):
        return HTTPException(
            422,
            {
                "message": str(exc).partition(": ")[0]
                + ": guardrail findings need an override (finding, reason, official)",
                "findings": [
                    {"finding": f.ref, "check": f.check, "message": f.message, "line": f.line}
                    for f in exc.findings
                ],
            },
        )
    if isinstance(exc, SchemeRefused):
        return HTTPException(422, [str(i) for i in exc.errors])
    if isinstance(exc, UnknownScheme):
        return HTTPException(404, str(exc))
    if isinstance(exc, MeasureTaken):
        return HTTPException(409, str(exc))
    return HTTPException(422, str(exc))


def _overrides(given: list[OverrideIn]) -> list[Override]:
    try:
        return [make_override(o.finding, o.reason, o.official) for o in given]
    except OverrideError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post(
    "/schemes",
    status_code=201,
    **_with_body(roles(Role.OPERATOR), _SCHEME_BODY),
    **linked(
        201,
        "The scheme version, stored and (unless activate is false) active",
        Activate=link("activate_scheme", body={"version": "version"}, scheme_id="scheme"),
        Deactivate=link("deactivate_scheme", scheme_id="scheme"),
    ),
)
async def add_scheme_route(ctx: Ctx, caller: Caller, request: Request) -> dict[str, Any]:
    """Add a scheme and make it the active version: its TOML as ``application/toml``, or as
    JSON with ``activate`` and ``overrides``. Lint errors refuse it (422, nothing stored);
    guardrail findings refuse it too (422 listing each finding), unless every one has an
    override with a reason and the official responsible, which is recorded in the ledger and
    published; a measure another active scheme owns is a 409."""
    given = await _scheme_in(request)
    try:
        loaded = parse_scheme(given.source)
    except SchemeError as exc:
        raise HTTPException(422, [str(i) for i in exc.issues]) from exc
    overrides = _overrides(given.overrides)
    if overrides and not given.activate:
        raise HTTPException(422, "overrides are given when activating: drop activate=false")
    issues = lint(loaded, ctx.catalog)

    try:
        added, recorded = await run_in_threadpool(
            functools.partial(
                store_and_activate,
                ctx.engine,
                loaded,
                loaded.scheme.id,
                loaded.version,
                activate=given.activate,
                catalog=ctx.catalog,
                overrides=overrides,
                operator=caller.actor,
                today=ctx.today(),
            )
        )
    except (GuardrailsUnmet, SchemeRefused, MeasureTaken, UnknownScheme, OverrideError) as exc:
        raise _gate_refusal(exc) from exc
    ctx.configuration_changed()
    return {
        "scheme": loaded.scheme.id,
        "version": loaded.version,
        "added": added,
        "active": given.activate,
        "overrides": [r.public() for r in recorded],
        "warnings": [str(i) for i in issues],
    }


@router.post(
    "/schemes/{scheme_id}/activate", operation_id="activate_scheme", **roles(Role.OPERATOR)
)
def activate(ctx: Ctx, caller: Caller, scheme_id: str, body: ActivateIn) -> dict[str, Any]:
    """Make a stored version active, through the same gate as adding one: 422 with the findings
    that no override covers (overrides recorded at an earlier activation of the version still
    count), 409 when a measure it defines belongs to another active scheme."""
    overrides = _overrides(body.overrides)
    try:
        _, recorded = store_and_activate(
            ctx.engine,
            None,
            scheme_id,
            body.version,
            activate=True,
            catalog=ctx.catalog,
            overrides=overrides,
            operator=caller.actor,
            today=ctx.today(),
        )
    except (GuardrailsUnmet, SchemeRefused, MeasureTaken, UnknownScheme, OverrideError) as exc:
        raise _gate_refusal(exc) from exc
    ctx.configuration_changed()
    return {
        "scheme": scheme_id,
        "active": body.version,
        "overrides": [r.public() for r in recorded],
    }


@router.post(
    "/schemes/{scheme_id}/deactivate", operation_id="deactivate_scheme", **roles(Role.OPERATOR)
)
def deactivate(ctx: Ctx, scheme_id: str) -> dict[str, object]:
    """Make no version of a scheme active: its measures stop applying, and their ids are free
    for another scheme."""
    try:
        with ctx.engine.begin() as conn:
            deactivate_scheme(conn, scheme_id)
    except UnknownScheme as exc:
        raise HTTPException(404, str(exc)) from exc
    ctx.configuration_changed()
    return {"scheme": scheme_id, "active": None}


@router.get("/catalog", **roles(Role.OPERATOR))
def catalog(ctx: Ctx) -> list[dict[str, Any]]:
    """The code catalog in force."""
    return [
        {
            "code": e.code,
            "description": e.description,
            "category": e.category,
            "severity": e.severity.value,
            "polarity": e.polarity.value,
            "subject_kinds": list(e.subject_kinds),
            "min_display_days": e.min_display_days,
            "max_display_days": e.max_display_days,
            "legal_basis": e.legal_basis,
        }
        for e in sorted(ctx.catalog.codes.values(), key=lambda e: e.code)
    ]


@router.post(
    "/keys",
    status_code=201,
    **roles(Role.OPERATOR),
    **linked(201, "The key and its token", Revoke=link("revoke_key", key_id="key_id")),
)
def new_key(ctx: Ctx, body: KeyIn) -> dict[str, str]:
    """Create an API key; the token is shown only in this response (422 for a name the key
    cannot be bound to)."""
    with ctx.engine.begin() as conn:
        key = create_key(conn, Role(body.role), body.name, body.label)
    ctx.configuration_changed()
    return {"key_id": key.key_id, "token": key.token, "role": key.role.value, "name": key.name}


@router.delete("/keys/{key_id}", operation_id="revoke_key", **roles(Role.OPERATOR))
def delete_key(ctx: Ctx, caller: Caller, key_id: str) -> dict[str, str]:
    """Revoke a key of a source, a relying party or a subject (404 for no such active key;
    422 for the caller's own key or an operator's: those are revoked on the server)."""
    with ctx.engine.begin() as conn:
        if not revoke_key(conn, key_id, signed_in_with=caller.key_id, remotely=True):
            raise HTTPException(404, "no such active key")
    ctx.configuration_changed()
    return {"key_id": key_id, "status": "revoked"}


@router.post("/relying-parties", status_code=201, **roles(Role.OPERATOR))
def register_party(ctx: Ctx, body: RelyingPartyIn) -> dict[str, Any]:
    """Register a relying party for the measures it needs (409 when the name is taken; 422
    naming the field for a webhook URL that is not https, or http to a loopback address); the
    answer warns about measures that no active scheme defines. The console and ``xinyong
    relying add`` register through the same use case."""
    done = register(ctx.engine, body.name, body.measures, body.purpose, body.webhook_url)
    ctx.configuration_changed()
    return {
        "name": done.name,
        "measures": list(done.measures),
        "purpose": done.purpose,
        "webhook_url": done.webhook_url,
        "webhook_secret": done.webhook_secret,
        "warnings": done.warnings(),
    }


@router.post("/relying-parties/{name}/webhook-secret", **roles(Role.OPERATOR))
def new_party_secret(ctx: Ctx, name: str) -> dict[str, str]:
    """Give a relying party a new webhook secret (404 for an unknown party); messages sent from
    now on are signed with it, and the old one stops verifying."""
    try:
        with ctx.engine.begin() as conn:
            secret = rotate_webhook_secret(conn, name)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"name": name, "webhook_secret": secret}


@router.put("/sources/{name}", **roles(Role.OPERATOR))
def register_source(ctx: Ctx, name: str, body: SourceIn) -> dict[str, object]:
    """Set the webhook where a source is told of disputes of its records, with a new signing
    secret (shown in this answer)."""
    with ctx.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        hold_lock(conn, f"source:{name}")  # updates the source's row, or adds it
        secret = register_source_webhook(conn, name, body.webhook_url)
    return {"name": name, "webhook_url": body.webhook_url, "webhook_secret": secret}


@router.get("/objections", **roles(Role.OPERATOR))
def objection_queue(ctx: Ctx, status: str | None = "open") -> list[dict[str, object]]:
    """Objections by deadline (default: the open ones)."""
    with ctx.engine.connect() as conn:
        return [o.json() for o in list_objections(conn, status=status)]


@router.post(
    "/objections/{objection_id}/decision",
    operation_id="decide_objection",
    **roles(Role.OPERATOR),
)
def decide_objection_route(
    ctx: Ctx, caller: Caller, objection_id: str, body: Decision
) -> dict[str, object]:
    """Uphold (revoke the record) or reject an objection, with a written reason (404 for an
    unknown objection, 409 for one decided already)."""
    objection, corrections = review_objection(
        ctx,
        objection_id,
        uphold=body.accept,
        reason=body.reason,
        operator=caller.actor,
    )
    return {**objection.json(), "corrections_queued": corrections}


@router.get("/repairs", **roles(Role.OPERATOR))
def repair_queue(ctx: Ctx, status: str | None = "open") -> list[dict[str, object]]:
    """Repair requests (default: the open ones)."""
    with ctx.engine.connect() as conn:
        return [r.json() for r in list_repairs(conn, status=status)]


@router.post("/repairs/{repair_id}/decision", operation_id="decide_repair", **roles(Role.OPERATOR))
def decide_repair_route(
    ctx: Ctx, caller: Caller, repair_id: str, body: Decision
) -> dict[str, object]:
    """Approve (the record stops counting today) or reject a repair request (404 for an unknown
    request, 409 for one decided already)."""
    repair, corrections = review_repair(
        ctx,
        repair_id,
        approve=body.accept,
        reason=body.reason,
        operator=caller.actor,
    )
    return {**repair.json(), "corrections_queued": corrections}


@router.get("/reviews", **roles(Role.OPERATOR))
def review_queue(ctx: Ctx, status: str | None = "open") -> list[dict[str, object]]:
    """Requests for human review by deadline (default: the open ones)."""
    with ctx.engine.connect() as conn:
        return [r.json() for r in list_reviews(conn, status=status)]


@router.post("/reviews/{review_id}/decision", operation_id="decide_review", **roles(Role.OPERATOR))
def decide_review_route(
    ctx: Ctx, caller: Caller, review_id: str, body: ReviewDecision
) -> dict[str, object]:
    """Confirm a decision under review, or change it by voiding the subject's records found
    wrong, with a written reason (404 unknown, 409 decided already)."""
    review, corrections = review_request(
        ctx,
        review_id,
        change=body.change,
        reason=body.reason,
        operator=caller.actor,
        void=body.void,
    )
    return {**review.json(), "corrections_queued": corrections}


@router.get("/appeals", **roles(Role.OPERATOR))
def appeal_queue(ctx: Ctx, status: str | None = "open") -> list[dict[str, object]]:
    """Appeals by deadline (default: the open ones)."""
    with ctx.engine.connect() as conn:
        return [a.json() for a in list_appeals(conn, status=status)]


@router.post("/appeals/{appeal_id}/decision", operation_id="decide_appeal", **roles(Role.OPERATOR))
def decide_appeal_route(
    ctx: Ctx, caller: Caller, appeal_id: str, body: Decision
) -> dict[str, object]:
    """Grant (the record is revoked, or repaired) or dismiss an appeal, with a written reason;
    422 when the caller made the decision appealed (another operator decides)."""
    appeal, corrections = review_appeal(
        ctx, appeal_id, grant=body.accept, reason=body.reason, decider=caller.decider
    )
    return {**appeal.json(), "corrections_queued": corrections}


@router.post("/sweep", **roles(Role.OPERATOR))
def sweep(ctx: Ctx) -> dict[str, object]:
    """Lapse overdue objections (suppressing their records) and refresh the subjects."""
    lapsed, queued = sweep_once(ctx)
    return {"lapsed": lapsed, "corrections_queued": queued}


@router.get("/ledger/head", **roles(Role.OPERATOR))
def ledger_head(ctx: Ctx) -> dict[str, object]:
    """The ledger's size and Merkle root."""
    with ctx.engine.connect() as conn:
        head = read_head(conn)
    return {"size": head.size, "root": head.root.hex(), "committed_at": head.committed_at}
