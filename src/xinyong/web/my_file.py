"""The subject's own file in the portal: the API's file (:mod:`xinyong.application.subject_file`)
with, per scheme, the score over the last year, the outlook (when counting records stop
counting and the standing then, if nothing new happens) and the actions the scheme rewards;
and the forms to object to a record (and add information to an objection), to apply for
repair, to ask for a person to review a decision, and to appeal. The words the portal adds (the
charts', the form's options) are in the page's language; a refused form says why in it too."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.credit_report import subject_report
from xinyong.application.filing import (
    add_objection_information,
    file_subject_appeal,
    file_subject_objection,
    file_subject_repair,
    file_subject_review,
)
from xinyong.application.proving import ProofBusy
from xinyong.application.subject_file import subject_file
from xinyong.decisions.standing import standing_of
from xinyong.decisions.timeline import OutlookStep, history_and_outlook, month_starts
from xinyong.documents.credit_report import download_headers, report_file
from xinyong.domain.catalog import Polarity
from xinyong.domain.refusals import Refused
from xinyong.due_process.reviews import reviewable_listings
from xinyong.i18n import N_, data_text, gettext_for, local_date
from xinyong.ledger.append import read_size
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.reference import Explanation
from xinyong.scoring.standing import Standing
from xinyong.web.access import PageError, SubjectVisitor, check_form
from xinyong.web.charts import Chart, Reference, Series
from xinyong.web.dependencies import context
from xinyong.web.plain_language import points_shown, rule_words
from xinyong.web.refusals import refused_form
from xinyong.web.templates import request_language
from xinyong.web.twins import PageData, PageLanguage, twin

__all__ = ["router"]

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]

HISTORY_MONTHS = 12
REPAIRABLE = ("counting", "in force", "disputed")
"""Record statuses for which a repair request makes sense (not already ended)."""


def _scheme_view(
    number: int,
    loaded: LoadedScheme,
    explanation: Explanation,
    history: list[tuple[date, Standing]],
    ctx: Context,
    steps: list[OutlookStep],
    language: str,
) -> dict[str, Any]:
    scheme = loaded.scheme
    standing = explanation.standing
    _ = gettext_for(language)
    return {
        "scheme": scheme.id,
        "name": scheme.name,
        "chart": Chart(
            f"score-{number}",
            _("Your score under %(scheme)s") % {"scheme": data_text(scheme.name, language)},
            [day.isoformat() for day, _standing in history],
            [Series(_("score"), [s.score for _day, s in history])],
            _("points"),
            [
                Reference(
                    g.min, _("%(grade)s from %(min)s") % {"grade": g.name, "min": f"{g.min:g}"}
                )
                for g in scheme.grades
                if g.min is not None
            ],
            x_label=_("Date"),
        ),
        "history": [
            {"on": day.isoformat(), "score": s.score, "grade": s.grade} for day, s in history
        ],
        "outlook": [
            {
                "on": step.on.isoformat(),
                "records_ending": list(step.ending),
                "score": step.standing.score,
                "grade": step.standing.grade,
                "lists": list(step.standing.lists),
                "measures": list(step.standing.measures),
            }
            for step in steps
        ],
        "rewarded": [
            {
                "rule": r.id,
                "points": points_shown(r),
                "words": rule_words(r, ctx.catalog, language),
            }
            for r in scheme.rules
            if r.unit_points > 0
        ],
        "lists": [
            {
                "list": lst.id,
                "kind": lst.kind,
                "description": lst.description,
                "public": lst.disclose,
            }
            for lst in scheme.lists
            if lst.id in standing.lists
        ],
        "measures": [
            {"measure": m.id, "kind": m.kind, "description": m.description, "basis": m.basis}
            for m in scheme.measures
            if m.id in standing.measures
        ],
    }


def build_my_file(ctx: Context, subject_id: str, language: str) -> PageData:
    """The subject's file with the portal's additions (their words in ``language``), read in one
    transaction."""
    today = ctx.today()
    with ctx.engine.connect() as conn, conn.begin():
        data = subject_file(conn, ctx, subject_id)
        size = read_size(conn)
        days = month_starts(today, HISTORY_MONTHS)
        views = []
        for number, loaded in enumerate(ctx.registry.active(conn)):
            now = standing_of(conn, loaded, subject_id, today, size, ctx.catalog).explanation
            if now is None:
                continue
            history, steps = history_and_outlook(
                conn, loaded, subject_id, now, days, size, ctx.catalog
            )
            views.append(_scheme_view(number, loaded, now, history, ctx, steps, language))
        listed = reviewable_listings(conn, subject_id)
    repairable = [
        r["record"]
        for r in data["records"]
        if r["repair_from"] is not None
        and r["repair_from"] <= today.isoformat()
        and r["status"] in REPAIRABLE
    ]
    return {
        **data,
        "summary": _summary(data, views, today, ctx),
        "schemes": views,
        "repairable": repairable,
        "reviewable": _reviewable(data, listed, language),
    }


CHECKS_DAYS = 90
"""The summary counts the checks of the last this many days."""
OPEN = "open"


def _summary(
    data: dict[str, Any], views: list[dict[str, Any]], today: date, ctx: Context
) -> dict[str, Any]:
    """The file in short, first on the page (as a consumer report opens): the lists the subject
    is on, the sanctions in force and until when (if nothing new happens), the records that
    count against them, the checks of the last 90 days, and their requests still open."""
    sanctions = []
    for view in views:
        for measure in view["measures"]:
            if measure["kind"] != "sanction":
                continue
            ends = next(
                (s["on"] for s in view["outlook"] if measure["measure"] not in s["measures"]), None
            )
            sanctions.append({**measure, "scheme": view["scheme"], "until": ends})
    counted = {c["record"] for s in data["standings"] for c in s.get("records", []) if c["counted"]}
    against = [
        r["record"] for r in data["records"] if r["record"] in counted and _adverse(r["code"], ctx)
    ]
    since = (today - timedelta(days=CHECKS_DAYS)).isoformat()
    requests = {
        kind: sum(1 for item in data[kind] if item["status"] == OPEN)
        for kind in ("objections", "repairs", "reviews", "appeals")
    }
    return {
        "lists": [
            {**lst, "scheme": view["scheme"], "scheme_name": view["name"]}
            for view in views
            for lst in view["lists"]
        ],
        "sanctions": sanctions,
        "records_against": against,
        "checks_days": CHECKS_DAYS,
        "checks": sum(1 for c in data["checks"] if c["made_at"][:10] >= since),
        "open_requests": requests,
    }


def _adverse(code: str, ctx: Context) -> bool:
    entry = ctx.catalog.get(code)
    return entry is not None and entry.polarity is Polarity.NEGATIVE


def _reviewable(data: dict[str, Any], listed: list[str], language: str) -> list[dict[str, str]]:
    """What the subject may ask a person to review, as the form's options."""
    _ = gettext_for(language)
    options = [
        {
            "value": f"check:{c['decision_id']}",
            "label": _("%(party)s's check of %(measure)s, %(day)s (%(answer)s)")
            % {
                "party": c["relying_party"],
                "measure": c["measure"],
                "day": local_date(c["made_at"][:10], language),
                "answer": _("applies") if c["applies"] else _("does not apply"),
            },
        }
        for c in data["checks"]
    ]
    options += [
        {"value": f"listing:{key}", "label": _("Listing on %(list)s") % {"list": key}}
        for key in listed
    ]
    options += [
        {
            "value": f"standing:{s['scheme']}",
            "label": _("Your score and grade under %(scheme)s")
            % {"scheme": data_text(s["name"], language)},
        }
        for s in data["standings"]
    ]
    return options


@twin(router, "/me", "me.html", private=True)
def my_file_page(ctx: Ctx, session: SubjectVisitor, language: PageLanguage) -> PageData:
    """Everything the ledger holds about the signed-in subject, explained."""
    return build_my_file(ctx, session.principal.name, language)


def _split(record: str) -> tuple[str, str]:
    source, _, record_id = record.partition("/")
    return source, record_id


async def _again(
    request: Request, ctx: Context, session: SubjectVisitor, refusal: Refused
) -> Response:
    data = await run_in_threadpool(
        build_my_file, ctx, session.principal.name, request_language(request)
    )
    return refused_form(request, refusal, "me.html", data, session, "/me")


@router.post("/me/objections", include_in_schema=False, response_model=None)
async def object_to_record(
    request: Request,
    ctx: Ctx,
    session: SubjectVisitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
    record: Annotated[str, Form(max_length=300)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
    evidence: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """File an objection from the form; back to the file, which lists it."""
    check_form(session, csrf)
    source, record_id = _split(record)
    try:
        await run_in_threadpool(
            file_subject_objection,
            ctx,
            session.principal.name,
            source,
            record_id,
            reason,
            evidence.strip() or None,
        )
    except Refused as exc:
        return await _again(request, ctx, session, exc)
    return RedirectResponse("/me?done=objection#objections", status_code=303)


@router.post("/me/repairs", include_in_schema=False, response_model=None)
async def ask_repair(
    request: Request,
    ctx: Ctx,
    session: SubjectVisitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
    record: Annotated[str, Form(max_length=300)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Apply for credit repair from the form; back to the file, which lists it."""
    check_form(session, csrf)
    source, record_id = _split(record)
    try:
        await run_in_threadpool(
            file_subject_repair, ctx, session.principal.name, source, record_id, reason
        )
    except Refused as exc:
        return await _again(request, ctx, session, exc)
    return RedirectResponse("/me?done=repair#repairs", status_code=303)


@router.post("/me/objections/{objection_id}/information", include_in_schema=False)
async def add_information(
    request: Request,
    ctx: Ctx,
    session: SubjectVisitor,
    objection_id: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
    information: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Add information to an open objection: the source is told, the deadline extends once."""
    check_form(session, csrf)
    try:
        await run_in_threadpool(
            add_objection_information, ctx, session.principal.name, objection_id, information
        )
    except Refused as exc:
        return await _again(request, ctx, session, exc)
    return RedirectResponse("/me?done=information#objections", status_code=303)


@router.post("/me/reviews", include_in_schema=False, response_model=None)
async def ask_review(
    request: Request,
    ctx: Ctx,
    session: SubjectVisitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
    decision: Annotated[str, Form(max_length=400)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Ask for a person to review a decision, from the form; back to the file, which lists it."""
    check_form(session, csrf)
    kind, _, target = decision.partition(":")
    try:
        await run_in_threadpool(
            file_subject_review, ctx, session.principal.name, kind, target, reason
        )
    except Refused as exc:
        return await _again(request, ctx, session, exc)
    return RedirectResponse("/me?done=review#reviews", status_code=303)


@router.post("/me/appeals", include_in_schema=False, response_model=None)
async def appeal(
    request: Request,
    ctx: Ctx,
    session: SubjectVisitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
    decision: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Appeal a rejected objection or repair request, from the form."""
    check_form(session, csrf)
    kind, _, target_id = decision.partition(":")
    try:
        await run_in_threadpool(
            file_subject_appeal, ctx, session.principal.name, kind, target_id, reason
        )
    except Refused as exc:
        return await _again(request, ctx, session, exc)
    return RedirectResponse("/me?done=appeal#appeals", status_code=303)


@router.get("/me/report", include_in_schema=False, response_model=None)
def my_report(ctx: Ctx, session: SubjectVisitor) -> Response:
    """The signed-in subject's file as a self-contained HTML report that proves itself (the
    same file as the API's ``GET /v1/me/report``)."""
    try:
        name, page = report_file(ctx, subject_report, session.principal.name)
    except ProofBusy as exc:
        raise PageError(
            503, N_("Another report is being made. Please try again in a moment.")
        ) from exc
    return HTMLResponse(page, headers=download_headers(name))
