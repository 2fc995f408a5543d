"""Sources submit records: one or a batch, validated and quarantined like ``xinyong ingest``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from xinyong.ingest.records import ingest_rows
from xinyong.service.auth import principal_of, roles
from xinyong.service.changes import after_changes
from xinyong.service.context import Context, context
from xinyong.service.keys import Principal, Role

router = APIRouter(prefix="/v1", tags=["sources"])
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


class RecordsIn(BaseModel):
    """Records in the ledger's record fields; ``source`` may be omitted (it is the caller's)."""

    records: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


@router.post("/records", **roles(Role.SOURCE))
def submit(ctx: Ctx, caller: Caller, body: RecordsIn) -> dict[str, Any]:
    """Append records under the caller's own source name; bad ones are returned with reasons."""
    report = ingest_rows(
        ctx.engine,
        body.records,
        ctx.catalog,
        source=caller.name,
        today=ctx.today(),
        note=f"api source {caller.name}",
    )
    corrections = 0
    if report.accepted:
        touched = {str(r.get("subject_id", "")).strip() for r in body.records} - {""}
        corrections = len(after_changes(ctx, touched))
    return {
        "received": report.rows,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": [
            {"index": r.line, "field": r.field, "reason": r.reason} for r in report.rejects
        ],
        "ledger": report.head.token if report.head else None,
        "corrections_queued": corrections,
    }
