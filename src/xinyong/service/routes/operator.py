"""Operator routes: schemes, catalog, keys, relying parties, review of objections and repairs
(a refused decision or key is answered by :mod:`xinyong.service.refusals`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role, create_key, revoke_key
from xinyong.application.review import review_objection, review_repair
from xinyong.application.sweeps import sweep_once
from xinyong.decisions.relying import AlreadyRegistered, register_relying_party
from xinyong.domain.text import PLAIN_TEXT_PATTERN
from xinyong.due_process.objections import list_objections
from xinyong.due_process.repairs import list_repairs
from xinyong.ledger.append import read_head
from xinyong.schemes.issues import SchemeError, Severity
from xinyong.schemes.lint import lint
from xinyong.schemes.load import parse_scheme
from xinyong.scoring.store import (
    MeasureTaken,
    UnknownScheme,
    activate_scheme,
    add_scheme,
    deactivate_scheme,
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


class KeyIn(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["operator", "source", "relying", "subject"]
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


@router.get("/schemes", **roles(Role.OPERATOR))
def list_schemes(ctx: Ctx) -> list[dict[str, object]]:
    """Stored scheme versions."""
    with ctx.engine.connect() as conn:
        return stored_versions(conn)


@router.post(
    "/schemes",
    status_code=201,
    **roles(Role.OPERATOR),
    **linked(
        201,
        "The scheme version, stored and active",
        Activate=link("activate_scheme", body={"version": "version"}, scheme_id="scheme"),
        Deactivate=link("deactivate_scheme", scheme_id="scheme"),
    ),
)
def add_scheme_route(
    ctx: Ctx, source: Annotated[str, Body(media_type="application/toml")]
) -> dict[str, Any]:
    """Add a scheme (TOML in the body) and make it the active version; lint errors refuse it
    (422), and so does a measure that another active scheme owns (409)."""
    try:
        loaded = parse_scheme(source)
    except SchemeError as exc:
        raise HTTPException(422, [str(i) for i in exc.issues]) from exc
    issues = lint(loaded, ctx.catalog)
    errors = [str(i) for i in issues if i.severity is Severity.ERROR]
    if errors:
        raise HTTPException(422, errors)
    try:
        with ctx.engine.begin() as conn:
            added = add_scheme(conn, loaded)
    except MeasureTaken as exc:
        raise HTTPException(409, str(exc)) from exc
    ctx.configuration_changed()
    return {
        "scheme": loaded.scheme.id,
        "version": loaded.version,
        "added": added,
        "warnings": [str(i) for i in issues],
    }


@router.post(
    "/schemes/{scheme_id}/activate", operation_id="activate_scheme", **roles(Role.OPERATOR)
)
def activate(ctx: Ctx, scheme_id: str, version: Annotated[str, Body(embed=True)]) -> dict[str, str]:
    """Make a stored version active (409 when a measure it defines belongs to another active
    scheme)."""
    try:
        with ctx.engine.begin() as conn:
            activate_scheme(conn, scheme_id, version)
    except UnknownScheme as exc:
        raise HTTPException(404, str(exc)) from exc
    except MeasureTaken as exc:
        raise HTTPException(409, str(exc)) from exc
    ctx.configuration_changed()
    return {"scheme": scheme_id, "active": version}


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
def delete_key(ctx: Ctx, key_id: str) -> dict[str, str]:
    """Revoke a key."""
    with ctx.engine.begin() as conn:
        if not revoke_key(conn, key_id):
            raise HTTPException(404, "no such active key")
    ctx.configuration_changed()
    return {"key_id": key_id, "status": "revoked"}


@router.post("/relying-parties", status_code=201, **roles(Role.OPERATOR))
def register_party(ctx: Ctx, body: RelyingPartyIn) -> dict[str, Any]:
    """Register a relying party for the measures it needs (409 when the name is taken); the
    answer warns about measures that no active scheme defines."""
    try:
        with ctx.engine.begin() as conn:
            done = register_relying_party(
                conn, body.name, body.measures, body.purpose, body.webhook_url
            )
    except AlreadyRegistered as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    ctx.configuration_changed()
    return {
        "name": done.name,
        "measures": list(done.measures),
        "purpose": done.purpose,
        "webhook_url": done.webhook_url,
        "warnings": done.warnings(),
    }


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
        operator=f"operator:{caller.key_id}",
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
        operator=f"operator:{caller.key_id}",
    )
    return {**repair.json(), "corrections_queued": corrections}


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
