"""Public routes: health, readiness, disclosed lists (masked), the transparency report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.credit_report import organization_report
from xinyong.application.keys import Role
from xinyong.due_process.disclosure import MAX_OFFSET, public_entries
from xinyong.due_process.transparency import transparency_report
from xinyong.service.auth import roles
from xinyong.service.dependencies import context
from xinyong.service.json_route import StrictJsonRoute
from xinyong.service.limits import public_within_limit
from xinyong.service.reports import report_response

router = APIRouter(route_class=StrictJsonRoute)
Ctx = Annotated[Context, Depends(context)]


@router.get("/health", tags=["public"], **roles(*Role))
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", tags=["public"], **roles(*Role))
def ready(ctx: Ctx) -> dict[str, str]:
    """Readiness: the ledger database answers."""
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means not ready
        raise HTTPException(503, "the ledger database is not reachable") from exc
    return {"status": "ready"}


@router.get("/v1/lists/{scheme_id}/{list_id}", tags=["public"], **roles(*Role))
def disclosed_list(
    ctx: Ctx,
    scheme_id: str,
    list_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Disclosed entries of a list after notice and grace period, identifiers masked."""
    with ctx.engine.connect() as conn:
        loaded = next((x for x in ctx.registry.active(conn) if x.scheme.id == scheme_id), None)
        if loaded is None or not any(
            lst.id == list_id and lst.disclose for lst in loaded.scheme.lists
        ):
            raise HTTPException(404, "no such disclosed list")
        total, entries = public_entries(
            conn,
            loaded,
            list_id,
            ctx.today(),
            policy=ctx.settings.masking,
            limit=limit,
            offset=offset,
        )
    return {
        "scheme": scheme_id,
        "list": list_id,
        "total": total,
        "entries": [
            {
                "entry_id": e.entry_id,
                "subject": e.subject,
                "name": e.name,
                "kind": e.kind,
                "listed_on": e.listed_on.isoformat(),
                "public_from": e.public_from.isoformat(),
            }
            for e in entries
        ],
    }


@router.get("/v1/transparency", tags=["public"], **roles(*Role))
def transparency(ctx: Ctx) -> dict[str, Any]:
    """List sizes, inflow and outflow per month, objections, checks per relying party."""
    with ctx.engine.connect() as conn:
        return transparency_report(conn, ctx.today())


@router.get(
    "/v1/organizations/{organization_id}/report",
    tags=["public"],
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}},
    **roles(*Role),
)
async def organization_credit_report(
    ctx: Ctx,
    request: Request,
    organization_id: Annotated[str, Path(max_length=64, description="The organisation's USCC.")],
) -> HTMLResponse:
    """An organisation's public credit report as one self-contained HTML file that proves
    itself: its records that the law publishes (after the notice period, while they stand), its
    credit commitments and its entries on public lists, with inclusion proofs and the signed
    checkpoint (``xinyong verify report FILE --key KEYFILE``). Rate-limited per client address
    (429 with Retry-After)."""
    await public_within_limit(ctx, request)
    return await run_in_threadpool(report_response, ctx, organization_report, organization_id)
