"""Sources submit records: one or a batch, validated and quarantined like ``xinyong ingest``."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role
from xinyong.service.auth import principal_of, roles
from xinyong.service.dependencies import context
from xinyong.service.json_route import StrictJsonRoute
from xinyong.service.submissions import RecordsIn, SubmissionWorker, submit_body

router = APIRouter(prefix="/v1", tags=["sources"], route_class=StrictJsonRoute)
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


def _documented_body(allowed: dict[str, Any]) -> dict[str, Any]:
    """Route arguments with the request body described for OpenAPI (the body is read raw)."""
    body = {
        "required": True,
        "content": {"application/json": {"schema": RecordsIn.model_json_schema()}},
    }
    return {**allowed, "openapi_extra": {**allowed["openapi_extra"], "requestBody": body}}


@router.post("/records", **_documented_body(roles(Role.SOURCE)))
async def submit(request: Request, ctx: Ctx, caller: Caller) -> JSONResponse:
    """Append records under the caller's own source name; bad ones are returned with reasons.

    The body is handed over unparsed to the service's submission process (setting
    ``ingest_process``), which checks it as the schema says (422 in FastAPI's error shape),
    appends the batch and refreshes its subjects' list entries: none of that work, not even
    parsing a batch of thousands of records, holds up the checks the service answers meanwhile.
    """
    body = await request.body()
    today = ctx.today()
    worker: SubmissionWorker | None = request.app.state.submissions
    if worker is None:
        status, report = await run_in_threadpool(submit_body, ctx, body, caller.name, today)
    else:
        try:
            status, report = await worker.submit(body, caller.name, today)
        except BrokenProcessPool as exc:  # died twice: appended whole or not at all
            raise HTTPException(
                503,
                "the submission worker stopped; submit the batch again (records appended "
                "already count as duplicates)",
                headers={"Retry-After": "1"},
            ) from exc
    return JSONResponse(report, status)
