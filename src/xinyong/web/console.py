"""The operator's console: the ledger head and its verification, stored schemes, relying
parties and their check volumes, the transparency report, the queues (objections, repair
requests, requests for human review, appeals) with their deadlines, decided with a written
reason, and the API keys and relying parties, made, listed, revoked and withdrawn through the
use cases the CLI runs (:mod:`xinyong.application.keys`, :mod:`xinyong.application.relying`).

A new key's token and a new party's webhook secret are shown once, on the page that answers the
form (never stored by a cache, never in an address: not a redirect's), and never again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection, select, tuple_
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.keys import (
    ISSUED_REMOTELY,
    ApiKey,
    create_key,
    issued_role,
    list_keys,
    revoke_key,
)
from xinyong.application.relying import (
    defined_measures,
    list_relying_parties,
    register,
    webhook_host,
    withdraw,
)
from xinyong.application.review import (
    review_appeal,
    review_objection,
    review_repair,
    review_request,
)
from xinyong.application.verification import verify_all
from xinyong.decisions.relying import Registration
from xinyong.domain.refusals import NotFound, Refused
from xinyong.due_process.appeals import list_appeals
from xinyong.due_process.objections import list_objections
from xinyong.due_process.repairs import list_repairs
from xinyong.due_process.reviews import list_reviews
from xinyong.due_process.transparency import transparency_report
from xinyong.i18n import N_, Message
from xinyong.ingest.reject_log import recent_rejects
from xinyong.ledger.append import read_head
from xinyong.ledger.database import one_snapshot
from xinyong.ledger.schema import inquiries, records
from xinyong.scoring.store import stored_versions
from xinyong.web.access import OperatorVisitor, PageError, check_form
from xinyong.web.dependencies import context
from xinyong.web.refusals import refused_form
from xinyong.web.sessions import WebSession
from xinyong.web.templates import in_language, render, request_language
from xinyong.web.twins import PageData, PageLanguage, twin

__all__ = ["router"]

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]
ObjectionStatus = Literal["open", "upheld", "rejected", "lapsed", "all"]
RepairStatus = Literal["open", "approved", "rejected", "closed", "all"]
ReviewStatus = Literal["open", "confirmed", "changed", "all"]
AppealStatus = Literal["open", "granted", "dismissed", "all"]
RECORDS_SHOWN = 200
"""A review lists the subject's records to void, up to this many (newest first)."""


REJECTS_SHOWN = 50
"""The console shows the newest rejected input rows, up to this many."""


def _repair_deadline(ctx: Context, filed_at: str) -> date:
    return date.fromisoformat(filed_at[:10]) + timedelta(days=ctx.settings.repair_days)


@twin(router, "/console", "console.html", private=True)
def console(ctx: Ctx, session: OperatorVisitor) -> PageData:
    """The state of the service at a glance."""
    today = ctx.today()
    with ctx.engine.connect() as conn, conn.begin():
        head = read_head(conn)
        objections = list_objections(conn, status="open")
        repairs = list_repairs(conn, status="open")
        reviews = list_reviews(conn, status="open")
        appeals = list_appeals(conn, status="open")
        rejected, rejects = recent_rejects(conn, REJECTS_SHOWN)
        data = {
            "as_of": today.isoformat(),
            "ledger": {
                "size": head.size,
                "root": head.root.hex(),
                "committed_at": head.committed_at,
                "token": head.token,
            },
            "queues": {
                "objections": len(objections),
                "objections_overdue": sum(o.deadline < today for o in objections),
                "repairs": len(repairs),
                "repairs_overdue": sum(_repair_deadline(ctx, r.filed_at) < today for r in repairs),
                "reviews": len(reviews),
                "reviews_overdue": sum(r.deadline < today for r in reviews),
                "appeals": len(appeals),
                "appeals_overdue": sum(a.deadline < today for a in appeals),
            },
            "rejects": {"total": rejected, "recent": [r.json() for r in rejects]},
            "schemes": stored_versions(conn),
            "relying_parties": [p.json() for p in list_relying_parties(conn)],
            "report": transparency_report(conn, today),
        }
    return data


@twin(router, "/console/verify", "verify.html", private=True)
def verification(ctx: Ctx, session: OperatorVisitor) -> PageData:
    """Recompute every hash and checkpoint of the ledger now (reads the whole ledger)."""
    with ctx.engine.connect() as conn, one_snapshot(conn).begin():
        verified = verify_all(conn)
        head = read_head(conn)
    result, operations, checks = verified.ledger, verified.operations, verified.inquiries
    problems = verified.problems
    return {
        "ok": not problems,
        "size": result.size,
        "root": result.root.hex(),
        "checkpoints": result.checkpoints,
        "head": head.token,
        "operations": operations.size,
        "operations_root": operations.root.hex(),
        "inquiries": checks.size,
        "inquiries_root": checks.root.hex(),
        "problems": [str(p) for p in problems],
        "truncated": verified.truncated,
    }


def _facts(conn: Connection, keys: Iterable[tuple[str, str]], ctx: Context) -> dict[str, Any]:
    """What the queues show of each record: code, description, date, source, legal basis."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    found = {}
    for row in conn.execute(
        select(records.c.source, records.c.record_id, records.c.code, records.c.occurred_at).where(
            tuple_(records.c.source, records.c.record_id).in_(wanted)
        )
    ):
        entry = ctx.catalog.get(row.code)
        found[f"{row.source}/{row.record_id}"] = {
            "code": row.code,
            "description": entry.description if entry else "",
            "occurred_at": row.occurred_at.isoformat(),
            "legal_basis": entry.legal_basis if entry else "",
        }
    return found


def build_objection_queue(ctx: Context, status: ObjectionStatus) -> PageData:
    """Objections by deadline, each with its record and whether it is overdue."""
    today = ctx.today()
    with ctx.engine.connect() as conn, conn.begin():
        found = list_objections(conn, status=None if status == "all" else status)
        facts = _facts(conn, ((o.source, o.record_id) for o in found), ctx)
    return {
        "as_of": today.isoformat(),
        "status": status,
        "objections": [
            {
                **o.json(),
                "facts": facts.get(o.key),
                "days_left": (o.deadline - today).days,
                "overdue": o.status == "open" and o.deadline < today,
            }
            for o in found
        ],
    }


def build_repair_queue(ctx: Context, status: RepairStatus) -> PageData:
    """Repair requests, oldest first, each with its record and its deadline."""
    today = ctx.today()
    with ctx.engine.connect() as conn, conn.begin():
        found = list_repairs(conn, status=None if status == "all" else status)
        facts = _facts(conn, ((r.source, r.record_id) for r in found), ctx)
    rows = []
    for r in found:
        deadline = _repair_deadline(ctx, r.filed_at)
        rows.append(
            {
                **r.json(),
                "facts": facts.get(f"{r.source}/{r.record_id}"),
                "deadline": deadline.isoformat(),
                "days_left": (deadline - today).days,
                "overdue": r.status == "open" and deadline < today,
            }
        )
    return {"as_of": today.isoformat(), "status": status, "repairs": rows}


@twin(router, "/console/objections", "objections.html", private=True)
def objection_queue(
    ctx: Ctx, session: OperatorVisitor, status: ObjectionStatus = "open"
) -> PageData:
    """The objection queue (default: open ones, by deadline)."""
    return build_objection_queue(ctx, status)


@twin(router, "/console/repairs", "repairs.html", private=True)
def repair_queue(ctx: Ctx, session: OperatorVisitor, status: RepairStatus = "open") -> PageData:
    """The repair queue (default: open requests)."""
    return build_repair_queue(ctx, status)


def _accepted(decision: str, yes: str, no: str) -> bool:
    if decision not in (yes, no):
        raise PageError(422, N_("Choose one of the decisions the form offers."))
    return decision == yes


@router.post("/console/objections/{objection_id}/decision", include_in_schema=False)
async def decide_objection_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    objection_id: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Uphold or reject an objection with a written reason."""
    check_form(session, csrf)
    uphold = _accepted(decision, "uphold", "reject")
    try:
        await run_in_threadpool(
            lambda: review_objection(
                ctx,
                objection_id,
                uphold=uphold,
                reason=reason,
                operator=session.principal.actor,
            )
        )
    except Refused as exc:
        data = await run_in_threadpool(build_objection_queue, ctx, "open")
        return refused_form(request, exc, "objections.html", data, session, "/console/objections")
    return RedirectResponse("/console/objections?done=decided", status_code=303)


@router.post("/console/repairs/{repair_id}/decision", include_in_schema=False)
async def decide_repair_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    repair_id: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Approve or reject a repair request with a written reason."""
    check_form(session, csrf)
    approve = _accepted(decision, "approve", "reject")
    try:
        await run_in_threadpool(
            lambda: review_repair(
                ctx,
                repair_id,
                approve=approve,
                reason=reason,
                operator=session.principal.actor,
            )
        )
    except Refused as exc:
        data = await run_in_threadpool(build_repair_queue, ctx, "open")
        return refused_form(request, exc, "repairs.html", data, session, "/console/repairs")
    return RedirectResponse("/console/repairs?done=decided", status_code=303)


def _subject_records(conn: Connection, subject_id: str) -> list[dict[str, str]]:
    """The subject's records a reviewer may void, newest first."""
    return [
        {
            "key": f"{row.source}/{row.record_id}",
            "code": str(row.code),
            "occurred_at": row.occurred_at.isoformat(),
        }
        for row in conn.execute(
            select(records.c.source, records.c.record_id, records.c.code, records.c.occurred_at)
            .where(records.c.subject_id == subject_id)
            .order_by(records.c.occurred_at.desc())
            .limit(RECORDS_SHOWN)
        )
    ]


_CHECK_ANSWERS = {
    True: N_(
        "%(party)s's check of %(measure)s under %(scheme)s %(version)s as of %(as_of)s: applies"
    ),
    False: N_(
        "%(party)s's check of %(measure)s under %(scheme)s %(version)s as of %(as_of)s: "
        "does not apply"
    ),
}


def _checks(conn: Connection, decision_ids: Iterable[str], language: str) -> dict[str, str]:
    """What each reviewed check answered, in words of ``language``."""
    wanted = sorted(set(decision_ids))
    if not wanted:
        return {}
    return {
        str(row.decision_id): in_language(
            Message(
                _CHECK_ANSWERS[bool(row.applies)],
                party=row.relying_party,
                measure=row.measure,
                scheme=row.scheme_id,
                version=row.version,
                as_of=row.as_of,
            ),
            language,
        )
        for row in conn.execute(select(inquiries).where(inquiries.c.decision_id.in_(wanted)))
    }


def build_review_queue(ctx: Context, status: ReviewStatus, language: str) -> PageData:
    """Requests for human review by deadline, each with the subject's records and, for a
    check, what it answered in words of ``language``."""
    today = ctx.today()
    with ctx.engine.connect() as conn, conn.begin():
        found = list_reviews(conn, status=None if status == "all" else status)
        checks = _checks(conn, (r.target for r in found if r.target_kind == "check"), language)
        rows = [
            {
                **r.json(),
                "what": checks.get(r.target, ""),
                "records": _subject_records(conn, r.subject_id) if r.status == "open" else [],
                "days_left": (r.deadline - today).days,
                "overdue": r.status == "open" and r.deadline < today,
            }
            for r in found
        ]
    return {"as_of": today.isoformat(), "status": status, "reviews": rows}


def build_appeal_queue(ctx: Context, status: AppealStatus) -> PageData:
    """Appeals by deadline, each with who decided first (who may not decide the appeal)."""
    today = ctx.today()
    with ctx.engine.connect() as conn, conn.begin():
        found = list_appeals(conn, status=None if status == "all" else status)
    return {
        "as_of": today.isoformat(),
        "status": status,
        "appeals": [
            {
                **a.json(),
                "days_left": (a.deadline - today).days,
                "overdue": a.status == "open" and a.deadline < today,
            }
            for a in found
        ],
    }


@twin(router, "/console/reviews", "reviews.html", private=True)
def review_queue(
    ctx: Ctx, session: OperatorVisitor, language: PageLanguage, status: ReviewStatus = "open"
) -> PageData:
    """The queue of requests for human review (default: open ones, by deadline)."""
    return build_review_queue(ctx, status, language)


@twin(router, "/console/appeals", "appeals.html", private=True)
def appeal_queue(ctx: Ctx, session: OperatorVisitor, status: AppealStatus = "open") -> PageData:
    """The queue of appeals (default: open ones, by deadline)."""
    return build_appeal_queue(ctx, status)


@router.post("/console/reviews/{review_id}/decision", include_in_schema=False)
async def decide_review_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    review_id: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
    void: Annotated[list[str] | None, Form(max_length=300)] = None,
) -> Response:
    """Confirm or change a decision under review, with a written reason."""
    check_form(session, csrf)
    change = _accepted(decision, "change", "confirm")
    try:
        await run_in_threadpool(
            lambda: review_request(
                ctx,
                review_id,
                change=change,
                reason=reason,
                operator=session.principal.actor,
                void=void or [],
            )
        )
    except Refused as exc:
        data = await run_in_threadpool(build_review_queue, ctx, "open", request_language(request))
        return refused_form(request, exc, "reviews.html", data, session, "/console/reviews")
    return RedirectResponse("/console/reviews?done=decided", status_code=303)


@router.post("/console/appeals/{appeal_id}/decision", include_in_schema=False)
async def decide_appeal_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    appeal_id: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Grant or dismiss an appeal, with a written reason (not by the first decision's
    operator)."""
    check_form(session, csrf)
    grant = _accepted(decision, "grant", "dismiss")
    try:
        await run_in_threadpool(
            lambda: review_appeal(
                ctx, appeal_id, grant=grant, reason=reason, decider=session.principal.decider
            )
        )
    except Refused as exc:
        data = await run_in_threadpool(build_appeal_queue, ctx, "open")
        return refused_form(request, exc, "appeals.html", data, session, "/console/appeals")
    return RedirectResponse("/console/appeals?done=decided", status_code=303)


# ---------------------------------------------------------------- API keys


def build_key_page(ctx: Context, session: WebSession, revoked: str = "") -> PageData:
    """Every key (never its secret), which one the operator is signed in with, and the roles a
    key may be made for here; ``revoked`` names a key this operator just revoked."""
    with ctx.engine.connect() as conn:
        keys = list_keys(conn)
    return {
        "keys": [{**k.json(), "yours": k.key_id == session.principal.key_id} for k in keys],
        "roles": [r.value for r in ISSUED_REMOTELY],
        "revoked": next((k.key_id for k in keys if k.key_id == revoked and k.revoked_at), ""),
    }


@twin(router, "/console/keys", "keys.html", private=True)
def key_page(
    ctx: Ctx, session: OperatorVisitor, revoked: Annotated[str, Query(max_length=64)] = ""
) -> PageData:
    """The API keys, the form that makes one, and a revoke button for each active key."""
    return build_key_page(ctx, session, revoked)


def _make_key(ctx: Context, role: str, name: str, label: str) -> ApiKey:
    with ctx.engine.begin() as conn:
        key = create_key(conn, issued_role(role), name, label)
    ctx.configuration_changed()
    return key


@router.post("/console/keys", include_in_schema=False)
async def make_key_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    label: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    """Make a key for a source, a relying party or a subject, and show its token this once."""
    check_form(session, csrf)
    try:
        key = await run_in_threadpool(_make_key, ctx, role, name, label)
    except Refused as exc:
        data = await run_in_threadpool(build_key_page, ctx, session)
        data["form"] = {"role": role, "name": name, "label": label}
        return refused_form(request, exc, "keys.html", data, session, "/console/keys")
    made = {"key_id": key.key_id, "token": key.token, "role": key.role.value, "name": key.name}
    return render(request, "key_created.html", made, session, private=True, shown="/console/keys")


def _revoke(ctx: Context, key_id: str, signed_in_with: str) -> None:
    with ctx.engine.begin() as conn:
        if not revoke_key(conn, key_id, signed_in_with=signed_in_with, remotely=True):
            raise NotFound(N_("no active key %(key)s"), key=key_id)
    ctx.configuration_changed()


@router.post("/console/keys/{key_id}/revoke", include_in_schema=False)
async def revoke_key_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    key_id: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Revoke a key for good (refused for the key of the operator's own session)."""
    check_form(session, csrf)
    try:
        await run_in_threadpool(_revoke, ctx, key_id, session.principal.key_id)
    except Refused as exc:
        data = await run_in_threadpool(build_key_page, ctx, session)
        return refused_form(request, exc, "keys.html", data, session, "/console/keys")
    return RedirectResponse(f"/console/keys?revoked={quote(key_id, safe='')}", status_code=303)


# ---------------------------------------------------------------- relying parties


def build_party_page(ctx: Context, withdrawn: str = "") -> PageData:
    """The registered parties (never a webhook's secret or whole URL), the measures active
    schemes define, and ``withdrawn``, a party this operator just withdrew."""
    with ctx.engine.connect() as conn, conn.begin():
        parties = list_relying_parties(conn)
        measures = defined_measures(conn)
    return {
        "parties": [p.json() for p in parties],
        "measures": measures,
        # only a party with no active key: the notice must not say what is not so
        "withdrawn": next(
            (p.name for p in parties if p.name == withdrawn and not p.active_keys), ""
        ),
    }


@twin(router, "/console/relying-parties", "relying_parties.html", private=True)
def party_page(
    ctx: Ctx, session: OperatorVisitor, withdrawn: Annotated[str, Query(max_length=400)] = ""
) -> PageData:
    """The relying parties, the form that registers one, and a withdraw button for each."""
    return build_party_page(ctx, withdrawn)


def _register(
    ctx: Context, name: str, measures: list[str], purpose: str, webhook_url: str
) -> Registration:
    done = register(ctx.engine, name, measures, purpose, webhook_url)
    ctx.configuration_changed()
    return done


def _registered(done: Registration) -> PageData:
    """What the page that answers a registration shows: the webhook secret among it, once."""
    return {
        "name": done.name,
        "measures": list(done.measures),
        "purpose": done.purpose,
        "webhook_host": webhook_host(done.webhook_url),
        "webhook_secret": done.webhook_secret,
        "warnings": [
            Message(
                N_(
                    "No active scheme defines measure %(measure)s: checks of it are refused "
                    "until one does. Check its spelling."
                ),
                measure=measure,
            )
            for measure in done.undefined
        ],
    }


@router.post("/console/relying-parties", include_in_schema=False)
async def register_party_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    measure: Annotated[list[str] | None, Form(max_length=400)] = None,
    other_measures: Annotated[str, Form(max_length=4000)] = "",
    purpose: Annotated[str, Form(max_length=4000)] = "",
    webhook_url: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Register a relying party for the measures its purpose needs, and show its webhook
    secret this once (with a warning for each measure no active scheme defines)."""
    check_form(session, csrf)
    measures = [*(measure or []), *other_measures.split(",")]
    try:
        done = await run_in_threadpool(_register, ctx, name, measures, purpose, webhook_url)
    except Refused as exc:
        data = await run_in_threadpool(build_party_page, ctx)
        data["form"] = {
            "name": name,
            "measures": measure or [],
            "other_measures": other_measures,
            "purpose": purpose,
            "webhook_url": webhook_url,
        }
        return refused_form(
            request, exc, "relying_parties.html", data, session, "/console/relying-parties"
        )
    return render(
        request,
        "party_registered.html",
        _registered(done),
        session,
        private=True,
        shown="/console/relying-parties",
    )


def _withdraw(ctx: Context, name: str) -> None:
    with ctx.engine.begin() as conn:
        withdraw(conn, name)
    ctx.configuration_changed()


@router.post("/console/relying-parties/withdraw", include_in_schema=False)
async def withdraw_party_form(
    request: Request,
    ctx: Ctx,
    session: OperatorVisitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Withdraw a relying party: every key bound to it revoked, its registration kept."""
    check_form(session, csrf)
    try:
        await run_in_threadpool(_withdraw, ctx, name)
    except Refused as exc:
        data = await run_in_threadpool(build_party_page, ctx)
        return refused_form(
            request, exc, "relying_parties.html", data, session, "/console/relying-parties"
        )
    query = urlencode({"withdrawn": name})
    return RedirectResponse(f"/console/relying-parties?{query}", status_code=303)
