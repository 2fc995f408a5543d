"""Public pages: the schemes and their disclosed lists, a list's entries (searchable, sortable,
paginated, masked) and one entry: why it is there, until when, and how to contest it."""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BeforeValidator, Field
from sqlalchemy import Connection

from xinyong.application.context import Context
from xinyong.decisions.standing import standing_of
from xinyong.decisions.timeline import outlook, stops_counting_on
from xinyong.domain.refusals import NotAllowed
from xinyong.due_process.disclosure import (
    MAX_OFFSET,
    SHOWN_ORDERS,
    PublicEntry,
    awaiting_publication,
    find_listing,
    list_facets,
    public_entries,
)
from xinyong.due_process.objections import objection_days
from xinyong.due_process.published_fields import published_fields
from xinyong.due_process.regions import region_name
from xinyong.due_process.repairs import repair_available_from
from xinyong.i18n import N_, Message
from xinyong.ledger.append import read_size
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.model import ListDef
from xinyong.scoring.reference import Explanation
from xinyong.scoring.standing import CountedRecord
from xinyong.web.access import PageError, public_page_limit
from xinyong.web.dependencies import context
from xinyong.web.twins import PageData, twin

__all__ = ["active_scheme", "router"]

router = APIRouter()
MAX_PAGE = MAX_OFFSET // 200
"""The last page a list may be asked for (at the most entries per page)."""
SEARCH_LIMIT = 50
"""Entries a search across the lists shows from each list (the list's own page has the rest)."""
Ctx = Annotated[Context, Depends(context)]


def active_scheme(conn: Connection, ctx: Context, scheme_id: str) -> LoadedScheme:
    """The active version of a scheme, or a 404 page."""
    for loaded in ctx.registry.active(conn):
        if loaded.scheme.id == scheme_id:
            return loaded
    raise PageError(404, N_("There is no active scheme %(scheme)r."), scheme=scheme_id)


def _disclosed_list(loaded: LoadedScheme, list_id: str) -> ListDef:
    for lst in loaded.scheme.lists:
        if lst.id == list_id and lst.disclose:
            return lst
    raise PageError(
        404,
        N_("The scheme %(scheme)r publishes no list %(list)r."),
        scheme=loaded.scheme.id,
        list=list_id,
    )


def _entry(entry: PublicEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "subject": entry.subject,
        "name": entry.name,
        "kind": entry.kind,
        "listed_on": entry.listed_on.isoformat(),
        "public_from": entry.public_from.isoformat(),
        "demo": entry.demo,
    }


@twin(router, "/", "home.html")
def home(ctx: Ctx) -> PageData:
    """The active schemes and the lists they publish, with the number of public entries."""
    today = ctx.today()
    schemes = []
    with ctx.engine.connect() as conn:
        for loaded in ctx.registry.active(conn):
            lists = [
                {
                    "list": lst.id,
                    "kind": lst.kind,
                    "description": lst.description,
                    "entries": public_entries(conn, loaded, lst.id, today, limit=0)[0],
                }
                for lst in loaded.scheme.lists
                if lst.disclose
            ]
            schemes.append(
                {
                    "scheme": loaded.scheme.id,
                    "name": loaded.scheme.name,
                    "version": loaded.version,
                    "lists": lists,
                }
            )
    return {"as_of": today.isoformat(), "schemes": schemes}


Order = Literal[
    "newest",
    "oldest",
    "public-newest",
    "public-oldest",
    "kind",
    "name",
    "name-desc",
    "identifier",
    "identifier-desc",
]


def _blank_is_none(value: object) -> object:
    """A form's "all" option sends an empty value: the same as leaving the field out."""
    return None if value == "" else value


Kind = Annotated[
    Literal["person", "organization"] | None,
    BeforeValidator(_blank_is_none),
    Query(description="Only people, or only organizations."),
]
Query_ = Annotated[
    str, Query(max_length=200, description="Full id, full name or part of a shown name.")
]
Year = Annotated[
    Annotated[int, Field(ge=1949, le=9999)] | None,
    BeforeValidator(_blank_is_none),
    Query(description="Year of listing."),
]
Region = Annotated[
    Annotated[str, Field(pattern=r"^[0-9]{2}$")] | None,
    BeforeValidator(_blank_is_none),
    Query(description="Province-level division code (two digits) the identifier names."),
]
Source = Annotated[
    Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}/[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")] | None,
    BeforeValidator(_blank_is_none),
    Query(description="One list's results only: SCHEME/LIST."),
]
CSV_LIMIT = 100_000
"""The most entries one CSV download holds."""
CSV_COLUMNS = ("entry_id", "name", "identifier", "kind", "listed_on", "public_from", "url")


@router.get("/lists/{scheme_id}/{list_id}.csv", include_in_schema=False)
def list_csv(
    ctx: Ctx,
    _limit: Annotated[None, Depends(public_page_limit)],
    scheme_id: str,
    list_id: str,
    q: Query_ = "",
    order: Order = "newest",
    kind: Kind = None,
    year: Year = None,
    region: Region = None,
) -> Response:
    """A disclosed list as CSV (UTF-8 with a byte order mark, so spreadsheets read Chinese): its
    public entries, masked as on the page, narrowed as the page is, at most :data:`CSV_LIMIT`
    (narrow a longer list by kind, region or year). Rate-limited by caller, as the API's costly
    public routes are."""
    today = ctx.today()
    with ctx.engine.connect() as conn:
        loaded = active_scheme(conn, ctx, scheme_id)
        _disclosed_list(loaded, list_id)
        _, entries = _public_entries(
            conn,
            loaded,
            list_id,
            today,
            policy=ctx.settings.masking,
            query=q,
            order=order,
            kind=kind,
            year=year,
            region=region,
            limit=CSV_LIMIT,
        )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        url = f"/lists/{scheme_id}/{list_id}/{e.entry_id}"
        row = (e.entry_id, e.name, e.subject, e.kind, e.listed_on, e.public_from, url)
        writer.writerow([_cell(str(value)) for value in row])
    name = f"{scheme_id}-{list_id}-{today.isoformat()}.csv"
    return Response(
        "\ufeff" + text.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def costly_list_limit(request: Request) -> None:
    """The anonymous caller's rate limit on a list page that reads more than a page of entries
    (a search, or an order by a shown column, which reads, masks and sorts them all)."""
    params = request.query_params
    if params.get("q", "").strip() or params.get("order", "") in SHOWN_ORDERS:
        await public_page_limit(request)


def _public_entries(
    conn: Connection, loaded: LoadedScheme, list_id: str, today: date, **narrowed: Any
) -> tuple[int, list[PublicEntry]]:
    """:func:`public_entries`, its refusal (an order by a shown column of a list too long to
    sort) a 422 page in the page's language."""
    try:
        return public_entries(conn, loaded, list_id, today, **narrowed)
    except NotAllowed as refused:
        raise PageError(422, refused.template, **refused.params) from None


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP's CSV injection advice): one
    whose first character, after spaces and in its plain form (＝ is =), could start one."""
    first = unicodedata.normalize("NFKC", value).lstrip(" \u00a0")[:1]
    return "'" + value if first in ("=", "+", "-", "@", "\t", "\r", "\n") else value


@twin(router, "/lists/{scheme_id}/{list_id}", "list.html")
def list_page(
    ctx: Ctx,
    _limit: Annotated[None, Depends(costly_list_limit)],
    scheme_id: str,
    list_id: str,
    q: Query_ = "",
    order: Order = "newest",
    kind: Kind = None,
    year: Year = None,
    region: Region = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 25,
) -> PageData:
    """A disclosed list: entries after notice and grace period, masked, newest first; narrowed
    by a search, a kind, a region or a year, with the counts of each."""
    today = ctx.today()
    policy = ctx.settings.masking
    with ctx.engine.connect() as conn:
        loaded = active_scheme(conn, ctx, scheme_id)
        lst = _disclosed_list(loaded, list_id)
        narrowed: dict[str, Any] = {
            "policy": policy,
            "query": q,
            "kind": kind,
            "year": year,
            "region": region,
            "limit": per_page,
            "offset": (page - 1) * per_page,
        }
        refused: Message | None = None
        try:
            total, entries = public_entries(conn, loaded, list_id, today, order=order, **narrowed)
        except NotAllowed as exc:  # too long to sort as asked: the default order, and why
            refused, order = Message(exc.template, **exc.params), "newest"
            total, entries = public_entries(conn, loaded, list_id, today, order=order, **narrowed)
        awaiting = awaiting_publication(conn, loaded, list_id, today)
        facets = list_facets(conn, loaded, list_id, today, policy)
    first = awaiting.first_public_on
    return {
        "scheme": scheme_id,
        "scheme_name": loaded.scheme.name,
        "list": list_id,
        "kind": lst.kind,
        "description": lst.description,
        "as_of": today.isoformat(),
        "q": q,
        "order": order,
        "order_refused": refused,
        "subject_kind": kind,
        "year": year,
        "region": region,
        "facets": facets,
        "region_names": {code: region_name(code) for code in facets["region"]},
        "page": page,
        "per_page": per_page,
        "pages": max(1, math.ceil(total / per_page)),
        "total": total,
        "entries": [_entry(e) for e in entries],
        "masking": policy.table(),
        "grace_days": ctx.settings.grace_days,
        "awaiting": {
            "entries": awaiting.count,
            "first_public_on": None if first is None else first.isoformat(),
        },
    }


@twin(router, "/search", "search.html")
def search_page(
    ctx: Ctx,
    _limit: Annotated[None, Depends(public_page_limit)],
    q: Query_ = "",
    source: Source = None,
) -> PageData:
    """One search across every public list, as Credit China searches: a full name, a full
    identifier, or the part of a name the lists show. Up to :data:`SEARCH_LIMIT` entries a list,
    with the count of each list that has some (``sources``); ``source`` (``SCHEME/LIST``) shows
    one list's only."""
    today = ctx.today()
    policy = ctx.settings.masking
    found: list[dict[str, Any]] = []
    with ctx.engine.connect() as conn:
        for loaded in ctx.registry.active(conn) if q.strip() else []:
            for lst in loaded.scheme.lists:
                if not lst.disclose:
                    continue
                total, entries = public_entries(
                    conn, loaded, lst.id, today, policy=policy, query=q, limit=SEARCH_LIMIT
                )
                if total:
                    found.append(
                        {
                            "source": f"{loaded.scheme.id}/{lst.id}",
                            "scheme": loaded.scheme.id,
                            "scheme_name": loaded.scheme.name,
                            "list": lst.id,
                            "kind": lst.kind,
                            "total": total,
                            "entries": [_entry(e) for e in entries],
                        }
                    )
    sources = {f["source"]: f["total"] for f in found}
    shown = [f for f in found if source is None or f["source"] == source]
    return {
        "q": q,
        "as_of": today.isoformat(),
        "source": source,
        "sources": sources,
        "lists": shown,
    }


def _behind(lst: ListDef, explanation: Explanation) -> list[CountedRecord]:
    """The counting records that keep the subject on the list: those of the list's rules and,
    for a list by grade, those that pushed the grade there (on a black list the records that
    took points away or limited or set the grade, on a red list those that added points);
    records that counted the other way are no reason for the entry and are not published."""
    by_grade = explanation.standing.grade in lst.grades
    grading = {rule for rule, _ in (*explanation.vetoes, *explanation.assignments)}
    found = []
    for c in explanation.records:
        if lst.kind == "black":
            towards = c.contribution < 0 or c.rule_id in grading
        else:
            towards = c.contribution > 0
        if c.counted and (c.rule_id in lst.rules or (by_grade and towards)):
            found.append(c)
    return found


def _reasons(
    conn: Connection,
    ctx: Context,
    loaded: LoadedScheme,
    behind: list[CountedRecord],
) -> list[dict[str, Any]]:
    """The records behind an entry (:func:`_behind`) as the entry page shows them."""
    rules = {r.id: r for r in loaded.scheme.rules}
    active = ctx.registry.active(conn)
    found = []
    for c in behind:
        record = c.record
        entry = ctx.catalog.get(record.code)
        ends = stops_counting_on(c, ctx.catalog)
        found.append(
            {
                "rule": c.rule_id,
                "rule_description": rules[c.rule_id].description,
                "code": record.code,
                "description": entry.description if entry else "",
                "legal_basis": entry.legal_basis if entry else "",
                "occurred_at": record.occurred_at.isoformat(),
                "source": record.source,
                "points": round(c.contribution, 2),
                "counts_until": ends.isoformat() if ends else None,
                "repair_from": repair_available_from(
                    record.occurred_at, record.code, ctx.catalog
                ).isoformat(),
                "objection_days": objection_days(
                    conn,
                    active,
                    record.source,
                    record.record_id,
                    ctx.settings.objection_deadline(record.source),
                ),
            }
        )
    return found


@twin(router, "/lists/{scheme_id}/{list_id}/{entry_id}", "entry.html")
def entry_page(ctx: Ctx, scheme_id: str, list_id: str, entry_id: str) -> PageData:
    """One public entry: the records and rules behind it, the measures and their legal basis,
    when it ends if nothing new happens, and how to object or apply for repair."""
    today = ctx.today()
    policy = ctx.settings.masking
    with ctx.engine.connect() as conn:
        loaded = active_scheme(conn, ctx, scheme_id)
        lst = _disclosed_list(loaded, list_id)
        listing = find_listing(conn, loaded, list_id, entry_id, today)
        if listing is None:
            raise PageError(404, N_("This list has no such public entry (it may have ended)."))
        size = read_size(conn)
        explanation = standing_of(
            conn, loaded, listing.subject_id, today, size, ctx.catalog
        ).explanation
        on_list = explanation is not None and list_id in explanation.standing.lists
        reasons: list[dict[str, Any]] = []
        published: list[dict[str, str]] = []
        until = None
        if explanation is not None and on_list:
            behind = _behind(lst, explanation)
            reasons = _reasons(conn, ctx, loaded, behind)
            steps = outlook(conn, loaded, listing.subject_id, explanation, size, ctx.catalog)
            until = next((s.on for s in steps if list_id not in s.standing.lists), None)
            published = published_fields(
                conn,
                lst,
                listing.subject_id,
                listing.kind,
                [c.record for c in behind],
                today,
                size,
                policy,
                ctx.catalog,
            )
    return {
        "scheme": scheme_id,
        "scheme_name": loaded.scheme.name,
        "version": loaded.version,
        "list": list_id,
        "kind": lst.kind,
        "list_description": lst.description,
        "as_of": today.isoformat(),
        "entry": _entry(listing.public(policy)),
        "published": published,
        "on_list": on_list,
        "grade": explanation.standing.grade if explanation is not None else None,
        "by_grade": explanation is not None and explanation.standing.grade in lst.grades,
        "reasons": reasons,
        "ends_on": until.isoformat() if until else None,
        "measures": [
            {
                "measure": m.id,
                "kind": m.kind,
                "description": m.description,
                "basis": m.basis,
            }
            for m in loaded.scheme.measures
            if list_id in m.lists
        ],
        "suppress_on_lapse": ctx.settings.suppress_on_lapse,
    }
