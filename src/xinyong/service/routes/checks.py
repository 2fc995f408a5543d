"""Checks for relying parties, and decision replay for operators and the decision's subject."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role
from xinyong.decisions.checks import (
    Decision,
    NotRegistered,
    UnknownMeasure,
    decide_from_stored,
    decide_measure,
)
from xinyong.decisions.notices import sent_notices
from xinyong.decisions.precomputed import PrecomputedStandings
from xinyong.decisions.related import related_facts
from xinyong.decisions.replay import UnknownDecision, replay_decision
from xinyong.domain.identifiers import IdentifierRefused, canonical_subject_id
from xinyong.peer.pseudonyms import RaterLabels
from xinyong.peer.ratings import SeedsAbsent
from xinyong.scoring.explanation import explanation_json
from xinyong.service.auth import admit, principal_for, principal_of, roles
from xinyong.service.dependencies import context
from xinyong.service.json_route import StrictJsonRoute
from xinyong.service.limits import within_limit
from xinyong.service.links import link, linked

log = logging.getLogger("xinyong.checks")
router = APIRouter(prefix="/v1", route_class=StrictJsonRoute)
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


class OverrideOut(BaseModel):
    """A guardrail finding the scheme version was activated despite."""

    finding: str
    message: str
    reason: str
    official: str
    recorded_on: date


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
    receipt: str = Field(
        description="The decision signed with the ledger's key (a C2SP signed note: the line "
        "xinyong-receipt/v1, then the decision as JSON with the checkpoint it was made at, and "
        "for an adverse answer the inclusion proofs of the ledger entries it rests on); check "
        "it offline with `xinyong verify receipt FILE --key KEYFILE` (docs/verify.md)."
    )
    reason: str | None = Field(
        default=None,
        description="Present when the measure applies to the subject through their role in an "
        "organisation it applies to (a measure's extends_to): the role, the organisation "
        "(masked) and the lists it is on.",
    )
    overrides: list[OverrideOut] = Field(
        default_factory=list,
        description="Present when the scheme version was activated despite guardrail "
        "findings: each finding, why, and the official responsible.",
    )


CHECKS_PATH = "/v1/checks"
_LIMITS = {
    "subject": "Full subject id (resident ID, USCC or external id).",
    "measure": "A measure the caller is registered for.",
}


async def serve_check(app: Starlette, scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /v1/checks`` as a bare ASGI endpoint, called by the app before its middleware and
    routing (:class:`xinyong.service.app.ServiceApp`).

    Relying parties call it for every ticket sold or loan approved, and FastAPI's middleware
    layers, dependency resolution, validation and serialization cost several times the decision
    itself; so do Starlette's request and response objects. The endpoint does the same things by
    hand on the ASGI scope: the role guard of every route (:func:`~xinyong.service.auth.admit`),
    the two query parameters checked as the OpenAPI document declares them (422 in FastAPI's
    error shape), errors as ``{"detail": ...}``, the rate limit, and the decision committed to
    the inquiry log before the answer (group commit: concurrent checks share one transaction, and
    each waits for it). Its OpenAPI entry is :data:`documented`. An unexpected error propagates
    to the server, which answers 500.
    """
    try:
        body = await check(app.state.context, scope)
    except HTTPException as exc:
        await JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)(
            scope, receive, send
        )
        return
    except RequestValidationError as exc:
        await JSONResponse({"detail": jsonable_encoder(exc.errors())}, 422)(scope, receive, send)
        return
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def check(ctx: Context, scope: Scope) -> bytes:
    """Does measure M apply to subject S now? The decision, logged, as the JSON answer."""
    authorization = api_key = ""
    for name, value in scope["headers"]:  # the first of each, as Starlette reads them
        if name == b"authorization" and not authorization:
            authorization = value.decode("latin-1")
        elif name == b"x-api-key" and not api_key:
            api_key = value.decode("latin-1")
    caller = admit(await principal_for(ctx, authorization, api_key), (Role.RELYING,))
    subject, measure = _query(scope["query_string"])
    await within_limit(ctx, caller.name)
    try:
        decision, notice = await _answer(ctx, caller.name, subject, measure)
    except NotRegistered as exc:
        raise HTTPException(403, str(exc)) from exc
    except UnknownMeasure as exc:
        raise HTTPException(404, str(exc)) from exc
    except SeedsAbsent as exc:  # the scheme cannot decide: never a silent prior for everyone
        log.error("%s", exc)
        raise HTTPException(503, f"the scheme cannot decide this measure now: {exc}") from exc
    overrides = ctx.registry.overrides(decision.scheme_id, decision.version)
    try:  # signed before it is logged: an answer that cannot be signed is not given at all
        receipt = await _receipt(ctx, decision, overrides, notice)
    except Exception as exc:  # the key, the database: whatever it was, nothing is logged
        log.exception("a check's receipt could not be made")
        raise HTTPException(
            503,
            "the answer could not be signed, so it is not given; try again",
            headers={"Retry-After": "1"},
        ) from exc
    try:
        await ctx.inquiries.record(decision, notice)
    except Exception as exc:  # not in the log, so not answered: the caller may ask again
        log.exception("a check could not be logged")
        raise HTTPException(
            503,
            "the check could not be written to the inquiry log, so it is not answered; try again",
            headers={"Retry-After": "1"},
        ) from exc
    answer = decision.public()
    if overrides:  # the version was activated despite guardrail findings: say so every time
        answer["overrides"] = overrides
    answer["receipt"] = receipt
    return orjson.dumps(answer)


async def _receipt(
    ctx: Context,
    decision: Decision,
    overrides: Sequence[dict[str, str]],
    notice: dict[str, object] | None,
) -> str:
    """The decision's signed receipt: from the caches on the event loop, else (a new tree head
    or relying party) read on SQLite in place and on a database server on a worker thread; an
    adverse answer's, which proves its grounds, always on a worker thread, one at a time
    (:attr:`~xinyong.application.context.Context.proving`: the first proof of a process may
    read every leaf hash)."""
    key = ctx.ledger_key()
    found = ctx.receipts.peek(key, decision, overrides, notice)
    if found is not None:
        return found
    if notice is not None:
        make = functools.partial(ctx.receipts.make, key, decision, overrides, None, notice)
        return await to_thread.run_sync(make, limiter=ctx.proving)
    if ctx.local_database:
        return ctx.receipts.make(key, decision, overrides)
    return await run_in_threadpool(ctx.receipts.make, key, decision, overrides)


async def _answer(
    ctx: Context, relying_party: str, subject: str, measure: str
) -> tuple[Decision, dict[str, object] | None]:
    """The decision and its adverse notice: on the event loop for a SQLite file; on
    PostgreSQL from a stored standing read on the loop, else on a worker thread."""
    if ctx.local_database:
        return _decide(ctx, relying_party, subject, measure)
    if ctx.stored_reads is not None:
        stored = await ctx.stored_reads.decide(
            ctx.registry,
            ctx.registrations,
            ctx.precomputed,
            relying_party,
            subject,
            measure,
            ctx.today(),
        )
        if stored is not None:
            return stored
    return await run_in_threadpool(_decide, ctx, relying_party, subject, measure)


def _query(query_string: bytes) -> tuple[str, str]:
    """``subject`` (in canonical form) and ``measure``, each required, 1 to 128 characters, the
    subject a valid id (else 422, and nothing logged); a repeated parameter counts by its last
    value, as in Starlette."""
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    values: list[str] = []
    errors: list[dict[str, Any]] = []
    for name in _LIMITS:
        value = params.get(name)
        if value is None:
            errors.append(
                {"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None}
            )
        elif not 1 <= len(value) <= 128:
            kind, bound = ("string_too_short", 1) if not value else ("string_too_long", 128)
            errors.append(
                {
                    "type": kind,
                    "loc": ["query", name],
                    "msg": f"String should have {'at least' if not value else 'at most'} "
                    f"{bound} character{'s' if bound > 1 else ''}",
                    "input": value,
                }
            )
        values.append(value or "")
    if not errors:
        try:
            values[0] = canonical_subject_id(values[0])
        except IdentifierRefused as exc:  # never "does not apply" about a malformed id
            errors.append(
                {
                    "type": "value_error",
                    "loc": ["query", "subject"],
                    "msg": f"Value error, not a subject id: {exc.reason}",
                    "input": values[0],
                }
            )
    if errors:
        raise RequestValidationError(errors)
    return values[0], values[1]


def _decide(
    ctx: Context, relying_party: str, subject: str, measure: str
) -> tuple[Decision, dict[str, object] | None]:
    """Decide (reads only: it never blocks writers, and nothing is written here).

    On SQLite this runs on the event loop with the loop's kept connection: first from the stored
    standings, one statement outside any transaction; else computed in a read transaction.
    """
    if ctx.local_database:
        conn = ctx.reader()
        try:
            found = decide_from_stored(
                conn,
                ctx.registry,
                relying_party,
                subject,
                measure,
                ctx.today(),
                ctx.registrations,
                ctx.precomputed,
            )
        finally:
            if conn.in_transaction():  # a cache was filled through SQLAlchemy
                conn.rollback()
        if found is not None:
            return found
        with conn.begin():  # the stored standing was just found not to do
            return _decide_on(conn, ctx, relying_party, subject, measure, None)
    with ctx.engine.connect() as conn, conn.begin():
        return _decide_on(conn, ctx, relying_party, subject, measure, ctx.precomputed)


def _decide_on(
    conn: Connection,
    ctx: Context,
    relying_party: str,
    subject: str,
    measure: str,
    precomputed: PrecomputedStandings | None,
) -> tuple[Decision, dict[str, object] | None]:
    return decide_measure(
        conn,
        ctx.registry,
        relying_party,
        subject,
        measure,
        ctx.today(),
        ctx.catalog,
        ctx.registrations,
        precomputed,
    )


documented = APIRouter(prefix="/v1")
"""The OpenAPI description of :func:`serve_check`, declared as FastAPI would generate it. This
router is never mounted: it only feeds the OpenAPI document, so ``/docs``, clients and the
route-by-role test see the check route like any other."""


@documented.get(
    "/checks",
    tags=["relying parties"],
    response_model=CheckAnswer,
    **roles(Role.RELYING),
    **linked(200, "The decision", Replay=link("replay_decision", decision_id="decision_id")),
)
def _check_described(
    subject: Annotated[str, Query(min_length=1, max_length=128, description=_LIMITS["subject"])],
    measure: Annotated[str, Query(min_length=1, max_length=128, description=_LIMITS["measure"])],
) -> CheckAnswer:
    """Does measure M apply to subject S now? Yes or no, with the decision id; nothing more.

    A measure that extends to related parties also applies to a person who holds one of its
    roles in an organisation the measure applies to; the answer then gives the reason.
    Only full subject ids, no listing or search; an unknown subject gets the same "no" as a known
    one. The subject is read in its canonical form (Unicode NFKC, outer spaces removed, the
    resident ID's x and a USCC's letters upper-cased); a value that is not a valid id is a 422
    naming what is wrong, and no check is logged. The check is written to the inquiry log (with
    the scheme version, as-of date and ledger size, for replay) before the answer is returned.
    403 for a measure the caller is not registered for, 404 for a measure no active scheme
    defines, 429 over the rate limit.
    """
    raise NotImplementedError("served by serve_check")


@router.get(
    "/decisions/{decision_id}",
    tags=["decisions"],
    operation_id="replay_decision",
    **roles(Role.OPERATOR, Role.SUBJECT),
)
def decision(ctx: Ctx, caller: Caller, decision_id: str) -> dict[str, Any]:
    """Replay a decision exactly as it was made, with its explanation."""
    try:
        with ctx.engine.connect() as conn:
            replay = replay_decision(conn, ctx.registry, decision_id, ctx.catalog)
    except UnknownDecision as exc:
        raise HTTPException(404, "no such decision") from exc
    if caller.role is Role.SUBJECT and replay.decision.subject_id != caller.name:
        raise HTTPException(404, "no such decision")
    related = None
    if replay.related is not None:  # the operator or the person it is about: named in full
        related = related_facts(replay.related)["related"]
    explanation = None
    if replay.explanation is not None:
        # The subject sees the raters behind a peer score by pseudonym only.
        raters = RaterLabels() if caller.role is Role.SUBJECT else None
        explanation = explanation_json(replay.explanation, replay.decision.version, raters)
    key = ctx.ledger_key()
    with ctx.engine.connect() as conn:
        notice = sent_notices(conn, replay.decision.subject_id, decision_id).get(decision_id)
        receipt = ctx.receipts.make(key, replay.decision, replay.overrides, conn, notice)
    return {
        **replay.decision.public(),
        "receipt": receipt,
        "relying_party": replay.decision.relying_party,
        "known_at": replay.decision.known_at,
        "replayed_applies": replay.applies,
        "reproduced": replay.reproduced,
        "overrides": list(replay.overrides),
        "explanation": explanation,
        "related": related,
    }
