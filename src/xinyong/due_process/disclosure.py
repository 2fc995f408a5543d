"""Disclosure ("face"): list entries become public only after notice and a grace period.

When a subject first appears on a list, a listing notice (records, rules, measures, rights, the
date of publication) goes to the subject and the entry becomes public ``grace_days`` later
(default 30; the SPC's 2019 opinion allows 1-3 months). When the subject leaves the list the
entry ends that day. Public views mask identifiers by the service's masking policy
(:mod:`~xinyong.due_process.masking`) and name an entry by a random ``entry_id``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, func, insert, or_, select, update

from xinyong.decisions.notices import counted_records, issue_notice
from xinyong.domain.identifiers import is_synthetic
from xinyong.domain.refusals import NotAllowed
from xinyong.due_process.masking import MaskingPolicy, searched_id
from xinyong.due_process.regions import region_of
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.effective import current_subjects
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import listings
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.reference import Explanation

__all__ = [
    "MAX_OFFSET",
    "ORDERS",
    "SHOWN_ORDERS",
    "SORT_LIMIT",
    "Awaiting",
    "Listing",
    "PublicEntry",
    "awaiting_publication",
    "find_listing",
    "list_facets",
    "public_entries",
    "update_listings",
]

MAX_OFFSET = 1_000_000_000
"""The largest offset into a public list a request may ask for (a larger one is refused before
it reaches the database, which cannot hold every integer)."""


@dataclass(frozen=True, slots=True)
class PublicEntry:
    """One public list entry: what anybody may see."""

    entry_id: str
    subject: str
    name: str
    kind: str
    listed_on: date
    public_from: date
    demo: bool = False
    """The subject's identifier is synthetic (:func:`~xinyong.domain.identifiers.is_synthetic`):
    demo data, which cannot name a real person."""


@dataclass(frozen=True, slots=True)
class Listing:
    """A disclosed list entry with the subject it names (never shown as it is)."""

    entry_id: str
    subject_id: str
    kind: str
    display_name: str | None
    listed_on: date
    public_from: date

    def public(self, policy: MaskingPolicy) -> PublicEntry:
        """The entry as the public sees it under ``policy``."""
        return PublicEntry(
            self.entry_id,
            policy.subject_id(self.subject_id, self.kind),
            policy.name(self.display_name, self.kind),
            self.kind,
            self.listed_on,
            self.public_from,
            is_synthetic(self.subject_id),
        )


@dataclass(frozen=True, slots=True)
class Awaiting:
    """Entries of a disclosed list still in their notice period."""

    count: int
    first_public_on: date | None
    """When the first of them becomes public."""


def awaiting_publication(
    conn: Connection, loaded: LoadedScheme, list_id: str, today: date
) -> Awaiting:
    """How many current entries of a disclosed list are not public yet, and when the first of
    them will be (a list that looks empty may only be waiting for its notice periods to end)."""
    lst = next((x for x in loaded.scheme.lists if x.id == list_id), None)
    if lst is None or not lst.disclose:
        return Awaiting(0, None)
    count, first = conn.execute(
        select(func.count(), func.min(listings.c.public_from)).where(
            listings.c.scheme_id == loaded.scheme.id,
            listings.c.list_id == list_id,
            listings.c.delisted_on.is_(None),
            listings.c.public_from > today,
        )
    ).one()
    return Awaiting(int(count or 0), first)


def update_listings(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    explanation: Explanation | None,
    today: date,
    grace_days: int,
) -> list[str]:
    """Open and close listing rows for the subject's current lists; return newly opened ids."""
    scheme = loaded.scheme
    now_on = set(explanation.standing.lists) if explanation is not None else set()
    rows = conn.execute(
        select(listings.c.list_id, listings.c.delisted_on).where(
            listings.c.scheme_id == scheme.id,
            listings.c.subject_id == subject_id,
            listings.c.delisted_on.is_(None) | (listings.c.listed_on == today),
        )
    ).all()
    open_now = {str(r.list_id) for r in rows if r.delisted_on is None}
    # entries opened today and closed since: joined again today, the day's entry is opened
    # again (an entry is keyed by its day)
    left_today = {str(r.list_id) for r in rows if r.delisted_on is not None}
    for list_id in sorted(open_now - now_on):
        entries = _entries(scheme.id, list_id, subject_id)
        conn.execute(
            update(listings)
            .where(entries, listings.c.delisted_on.is_(None))
            .values(delisted_on=today)
        )
        log_rows(conn, listings, entries)
    opened = sorted(now_on - open_now)
    if opened and explanation is not None:
        public_from = today + timedelta(days=grace_days)
        for list_id in opened:
            if list_id in left_today:  # as the notice below says: noticed now, public after
                conn.execute(
                    update(listings)
                    .where(_entries(scheme.id, list_id, subject_id), listings.c.listed_on == today)
                    .values(delisted_on=None, noticed_at=utc_now_text(), public_from=public_from)
                )
                continue
            conn.execute(
                insert(listings).values(
                    scheme_id=scheme.id,
                    list_id=list_id,
                    subject_id=subject_id,
                    listed_on=today,
                    noticed_at=utc_now_text(),
                    public_from=public_from,
                    entry_id=uuid.uuid4().hex,
                )
            )
        log_rows(
            conn,
            listings,
            (listings.c.scheme_id == scheme.id)
            & (listings.c.subject_id == subject_id)
            & (listings.c.listed_on == today),
        )
        kinds = {lst.id: lst for lst in scheme.lists}
        issue_notice(
            conn,
            subject_id,
            "listing",
            {
                "scheme": scheme.id,
                "version": loaded.version,
                "lists": [
                    {"id": i, "kind": kinds[i].kind, "public": kinds[i].disclose} for i in opened
                ],
                "public_from": public_from.isoformat(),
                "measures": [
                    {"id": m.id, "kind": m.kind, "description": m.description, "basis": m.basis}
                    for m in scheme.measures
                    if m.id in explanation.standing.measures
                ],
                "records": counted_records(explanation),
            },
        )
    return opened


def _entries(scheme_id: str, list_id: str, subject_id: str) -> ColumnElement[bool]:
    """The entries of a subject on a list, of every day."""
    return (
        (listings.c.scheme_id == scheme_id)
        & (listings.c.list_id == list_id)
        & (listings.c.subject_id == subject_id)
    )


def _disclosed(loaded: LoadedScheme, list_id: str, today: date) -> ColumnElement[bool] | None:
    """The condition for a list's public entries, or None when the list is not disclosed."""
    lst = next((x for x in loaded.scheme.lists if x.id == list_id), None)
    if lst is None or not lst.disclose:
        return None
    return (
        (listings.c.scheme_id == loaded.scheme.id)
        & (listings.c.list_id == list_id)
        & listings.c.delisted_on.is_(None)
        & (listings.c.public_from <= today)
    )


def _listing_query(condition: ColumnElement[bool]) -> Select[tuple[object, ...]]:
    who = current_subjects().subquery()
    return (
        select(
            listings.c.entry_id,
            listings.c.subject_id,
            who.c.kind,
            who.c.display_name,
            listings.c.listed_on,
            listings.c.public_from,
        )
        .join(who, who.c.subject_id == listings.c.subject_id)
        .where(condition)
    )


def _listing(row: Row[Any]) -> Listing:
    return Listing(
        str(row.entry_id),
        str(row.subject_id),
        str(row.kind),
        row.display_name,
        row.listed_on,
        row.public_from,
    )


SEARCH_CANDIDATES = 10_000
"""The most entries a search reads from the database (a name containing the query) before the
masking policy keeps those it may find: a one-character query on a long list stays bounded."""
SHOWN_ORDERS: dict[str, tuple[str, bool]] = {
    "name": ("name", False),
    "name-desc": ("name", True),
    "identifier": ("subject", False),
    "identifier-desc": ("subject", True),
}
"""Orders by a column as the public sees it (the masked name, the masked identifier), made from
the masked entries themselves: an order by the full values would tell what the masks hide (the
hidden birth date of a resident ID, the hidden given name). Names sort by code point (for the
common ideographs, radical-and-stroke order; not pinyin)."""
ORDERS = ("newest", "oldest", "public-newest", "public-oldest", "kind", *SHOWN_ORDERS)
"""How a public list may be sorted: by listing date, by publication date, by kind, by the name or
identifier as shown. Entries that tie keep the order of their random ids."""
SORT_LIMIT = SEARCH_CANDIDATES
"""The most entries an order by a shown column sorts (it reads and masks them all): a longer
list is narrowed first (a search, a kind, a region, a year)."""


def _ordered(condition: ColumnElement[bool], order: str) -> Select[tuple[object, ...]]:
    query = _listing_query(condition)
    who = query.selected_columns
    by = {
        "newest": [listings.c.listed_on.desc()],
        "oldest": [listings.c.listed_on.asc()],
        "public-newest": [listings.c.public_from.desc()],
        "public-oldest": [listings.c.public_from.asc()],
        "kind": [who.kind.asc(), listings.c.listed_on.desc()],
    }.get(order)
    if by is None and order not in SHOWN_ORDERS:
        raise ValueError(f"unknown order {order!r} (known: {', '.join(ORDERS)})")
    return query.order_by(*(by or ()), listings.c.entry_id)


def _sorted_as_shown(found: list[Listing], order: str, policy: MaskingPolicy) -> list[Listing]:
    """``found`` ordered by the column ``order`` names as ``policy`` shows it; ties by random
    id, entries that show nothing last (either way)."""
    column, descending = SHOWN_ORDERS[order]

    def shown(entry: Listing) -> str:
        if column == "name":
            return policy.name(entry.display_name, entry.kind)
        return policy.subject_id(entry.subject_id, entry.kind)

    keyed = sorted(((shown(e), e) for e in found), key=lambda pair: pair[1].entry_id)
    visible = [pair for pair in keyed if pair[0].strip("* ")]
    hidden = [e for value, e in keyed if not value.strip("* ")]
    visible.sort(key=lambda pair: pair[0].casefold(), reverse=descending)
    return [e for _, e in visible] + hidden


def _narrowed(
    condition: ColumnElement[bool],
    kind: str | None,
    year: int | None,
    region: str | None = None,
    policy: MaskingPolicy | None = None,
) -> ColumnElement[bool]:
    if year is not None:
        condition = condition & listings.c.listed_on.between(date(year, 1, 1), date(year, 12, 31))
    if kind is not None or region is not None:
        who = current_subjects().subquery()
        chosen = select(who.c.subject_id)
        if kind is not None:
            chosen = chosen.where(who.c.kind == kind)
        if region is not None:
            shown = region_of(who.c.subject_id, who.c.kind, policy or MaskingPolicy())
            chosen = chosen.where(shown == region)
        condition = condition & listings.c.subject_id.in_(chosen)
    return condition


def public_entries(
    conn: Connection,
    loaded: LoadedScheme,
    list_id: str,
    today: date,
    *,
    policy: MaskingPolicy | None = None,
    query: str = "",
    order: str = "newest",
    kind: str | None = None,
    year: int | None = None,
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
    subject_id: str | None = None,
) -> tuple[int, list[PublicEntry]]:
    """Disclosed, current entries of a list whose grace period is over, masked by ``policy``.

    ``query`` finds entries by full identifier, full name, or the visible part of the name
    (:meth:`MaskingPolicy.matches`); ``kind`` (person, organization) and ``year`` (of listing)
    narrow them, and so does ``region`` (:mod:`~xinyong.due_process.regions`, as the policy
    shows it); ``subject_id`` keeps one subject's entries only. Entries are sorted by
    ``order`` (:data:`ORDERS`); entries that tie in the order of their random ids, which says
    nothing about the subjects. An order by a shown column (:data:`SHOWN_ORDERS`) sorts the
    masked entries, at most :data:`SORT_LIMIT` of them: a longer list is refused
    (:class:`~xinyong.domain.refusals.NotAllowed`) until it is narrowed.
    """
    policy = policy or MaskingPolicy()
    condition = _disclosed(loaded, list_id, today)
    if condition is None:
        return 0, []
    if subject_id is not None:
        condition = condition & (listings.c.subject_id == subject_id)
    condition = _narrowed(condition, kind, year, region, policy)
    ordered = _ordered(condition, order)
    if not query.strip():
        counted = conn.execute(select(func.count()).select_from(listings).where(condition))
        total = int(counted.scalar() or 0)
        if order not in SHOWN_ORDERS:
            rows = conn.execute(ordered.limit(limit).offset(offset)).all()
            return total, [_listing(r).public(policy) for r in rows]
        if total > SORT_LIMIT:  # a shown order reads, masks and sorts every entry
            raise _too_many_to_sort()
        found = [_listing(r) for r in conn.execute(ordered)]
    else:
        # The database narrows the candidates (the id, or a name containing the query); the
        # policy then keeps only what it lets a search find.
        text = " ".join(query.split())
        candidates = ordered.where(
            or_(
                listings.c.subject_id == (searched_id(query) or ""),
                func.lower(ordered.selected_columns.display_name).contains(
                    text.lower(), autoescape=True
                ),
            )
        )
        rows = conn.execute(candidates.limit(SEARCH_CANDIDATES + 1)).all()
        if order in SHOWN_ORDERS and len(rows) > SEARCH_CANDIDATES:
            raise _too_many_to_sort()  # the first candidates by random id are no order
        found = [
            _listing(r)
            for r in rows[:SEARCH_CANDIDATES]
            if policy.matches(query, str(r.subject_id), r.display_name, str(r.kind))
        ]
    if order in SHOWN_ORDERS:
        found = _sorted_as_shown(found, order, policy)
    return len(found), [x.public(policy) for x in found[offset : offset + limit]]


def _too_many_to_sort() -> NotAllowed:
    return NotAllowed(
        N_(
            "sorting by a shown column reads at most %(limit)s entries: narrow the list first "
            "(a search, a kind, a region or a year)"
        ),
        limit=SORT_LIMIT,
    )


def list_facets(
    conn: Connection,
    loaded: LoadedScheme,
    list_id: str,
    today: date,
    policy: MaskingPolicy | None = None,
) -> dict[str, dict[str, int]]:
    """The public entries of a list counted by kind, by region (as ``policy`` shows it) and by
    year of listing (what the list page offers to narrow it by; counts of what anyone may see
    anyway)."""
    condition = _disclosed(loaded, list_id, today)
    if condition is None:
        return {"kind": {}, "region": {}, "year": {}}
    listed = _listing_query(condition).subquery()
    kinds = conn.execute(select(listed.c.kind, func.count()).group_by(listed.c.kind)).all()
    shown = region_of(listed.c.subject_id, listed.c.kind, policy or MaskingPolicy())
    regions = conn.execute(
        select(shown, func.count()).where(shown.is_not(None)).group_by(shown)
    ).all()
    days = conn.execute(  # by day in the database (a few hundred rows), by year here
        select(listings.c.listed_on, func.count()).where(condition).group_by(listings.c.listed_on)
    ).all()
    by_year: dict[str, int] = {}
    for day, count in days:
        year = str(day)[:4]
        by_year[year] = by_year.get(year, 0) + int(count)
    return {
        "kind": {str(kind): int(count) for kind, count in sorted(kinds)},
        "region": {str(code): int(count) for code, count in sorted(regions)},
        "year": dict(sorted(by_year.items(), reverse=True)),
    }


def find_listing(
    conn: Connection, loaded: LoadedScheme, list_id: str, entry_id: str, today: date
) -> Listing | None:
    """A disclosed, current entry of a list by its public id (None when it is not public)."""
    condition = _disclosed(loaded, list_id, today)
    if condition is None:
        return None
    row = conn.execute(_listing_query(condition & (listings.c.entry_id == entry_id))).first()
    return None if row is None else _listing(row)
