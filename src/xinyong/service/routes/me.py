"""The subject's own file: records and their status, standings with explanations, lists,
measures, every check made on them, notices; objections and repair requests."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from xinyong.decisions.standing import standing_of
from xinyong.due_process.notices import notices_for
from xinyong.due_process.objections import (
    ObjectionError,
    file_objection,
    list_objections,
    objection_days,
)
from xinyong.due_process.repairs import RepairError, list_repairs, request_repair
from xinyong.ledger.append import read_head
from xinyong.ledger.effective import subject_version
from xinyong.ledger.schema import events, inquiries, records
from xinyong.scoring.explanation import explanation_json
from xinyong.service.auth import principal_of, roles
from xinyong.service.context import Context, context
from xinyong.service.keys import Principal, Role

router = APIRouter(prefix="/v1/me", tags=["subjects"])
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]


class ObjectionIn(BaseModel):
    """An objection to one record of one's own file."""

    source: str = Field(min_length=1, max_length=64)
    record_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=5000)
    evidence: str | None = Field(default=None, max_length=5000)


class RepairIn(BaseModel):
    """A credit repair request for one record of one's own file."""

    source: str = Field(min_length=1, max_length=64)
    record_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=5000)


def _records(
    conn: Connection, ctx: Context, subject_id: str, counted: set[str], disputed: set[str]
) -> list[dict[str, Any]]:
    today = ctx.today()
    lifecycle: dict[str, list[dict[str, Any]]] = {}
    for e in conn.execute(
        select(events)
        .join(
            records,
            (records.c.source == events.c.source) & (records.c.record_id == events.c.record_id),
        )
        .where(records.c.subject_id == subject_id)
        .order_by(events.c.position)
    ):
        lifecycle.setdefault(f"{e.source}/{e.record_id}", []).append(
            {
                "event": e.event_type,
                "effective_on": e.effective_on.isoformat(),
                "reason": e.reason,
                "recorded_at": e.recorded_at,
            }
        )
    out = []
    for r in conn.execute(
        select(records).where(records.c.subject_id == subject_id).order_by(records.c.occurred_at)
    ):
        key = f"{r.source}/{r.record_id}"
        history = lifecycle.get(key, [])
        entry = ctx.catalog.get(r.code)
        status = "in force"
        ended = [
            h
            for h in history
            if h["event"] in ("revoked", "suppressed", "corrected")
            or (h["event"] in ("repaired", "expired") and h["effective_on"] <= today.isoformat())
        ]
        if ended:
            status = ended[-1]["event"]
        elif entry is not None and (today - r.occurred_at).days >= entry.max_display_days:
            status = "expired"
        elif key in counted:
            status = "counting"
        if key in disputed and status in ("in force", "counting"):
            status = "disputed"
        out.append(
            {
                "record": key,
                "code": r.code,
                "description": entry.description if entry else "",
                "occurred_at": r.occurred_at.isoformat(),
                "source": r.source,
                "case_id": r.case_id,
                "attrs": orjson.loads(r.attrs),
                "evidence": r.evidence,
                "recorded_at": r.recorded_at,
                "legal_basis": entry.legal_basis if entry else "",
                "status": status,
                "events": history,
            }
        )
    return out


@router.get("", **roles(Role.SUBJECT))
def my_file(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Everything the ledger holds about the caller, and everyone who checked them."""
    subject_id = caller.name
    today = ctx.today()
    with ctx.engine.connect() as conn:
        head = read_head(conn)
        who = subject_version(conn, subject_id)
        standings = []
        counted: set[str] = set()
        for loaded in ctx.registry.active(conn):
            standing = standing_of(conn, loaded, subject_id, today, head.size, ctx.catalog)
            if standing.explanation is None:
                continue
            counted |= {c.record.key for c in standing.explanation.records if c.counted}
            standings.append(
                {
                    "scheme": loaded.scheme.id,
                    "name": loaded.scheme.name,
                    **explanation_json(standing.explanation, loaded.version),
                }
            )
        objections = list_objections(conn, subject_id=subject_id)
        disputed = {f"{o.source}/{o.record_id}" for o in objections if o.status == "open"}
        checks = [
            {
                "decision_id": q.decision_id,
                "relying_party": q.relying_party,
                "measure": q.measure,
                "applies": bool(q.applies),
                "made_at": q.made_at,
                "scheme": q.scheme_id,
            }
            for q in conn.execute(
                select(inquiries)
                .where(inquiries.c.subject_id == subject_id)
                .order_by(inquiries.c.made_at.desc())
            )
        ]
        return {
            "subject": None
            if who is None
            else {
                "id": who.subject_id,
                "kind": who.kind,
                "name": who.display_name,
                "identifiers": orjson.loads(who.identifiers),
            },
            "as_of": today.isoformat(),
            "ledger": head.token,
            "records": _records(conn, ctx, subject_id, counted, disputed),
            "standings": standings,
            "checks": checks,
            "notices": notices_for(conn, subject_id),
            "objections": [o.json() for o in objections],
            "repairs": [r.json() for r in list_repairs(conn, subject_id=subject_id)],
        }


@router.post("/objections", status_code=201, **roles(Role.SUBJECT))
def object_to_record(ctx: Ctx, caller: Caller, body: ObjectionIn) -> dict[str, object]:
    """Object to a record; the operator must decide by the deadline."""
    try:
        with ctx.engine.connect() as conn, conn.begin():
            days = objection_days(
                conn,
                ctx.registry.active(conn),
                body.source,
                body.record_id,
                ctx.settings.objection_deadline(body.source),
            )
            objection = file_objection(
                conn,
                caller.name,
                body.source,
                body.record_id,
                body.reason,
                body.evidence,
                ctx.today(),
                days,
            )
    except ObjectionError as exc:
        raise HTTPException(422, str(exc)) from exc
    return objection.json()


@router.get("/objections", **roles(Role.SUBJECT))
def my_objections(ctx: Ctx, caller: Caller) -> list[dict[str, object]]:
    """The caller's objections and their state."""
    with ctx.engine.connect() as conn:
        return [o.json() for o in list_objections(conn, subject_id=caller.name)]


@router.post("/repairs", status_code=201, **roles(Role.SUBJECT))
def ask_repair(ctx: Ctx, caller: Caller, body: RepairIn) -> dict[str, object]:
    """Apply for credit repair of a record past its minimum display period."""
    try:
        with ctx.engine.connect() as conn, conn.begin():
            repair = request_repair(
                conn,
                caller.name,
                body.source,
                body.record_id,
                body.reason,
                ctx.today(),
                ctx.catalog,
            )
    except RepairError as exc:
        raise HTTPException(422, str(exc)) from exc
    return repair.json()
