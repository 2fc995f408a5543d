"""Disclosure ("face"): list entries become public only after notice and a grace period.

When a subject first appears on a list, a listing notice (records, rules, measures, rights, the
date of publication) goes to the subject and the entry becomes public ``grace_days`` later
(default 30; the SPC's 2019 opinion allows 1-3 months). When the subject leaves the list the
entry ends that day. Public views mask identifiers: a resident ID keeps its region prefix and
check character, a person's name only the family name; organizations are shown in full, as
registration data is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, func, insert, select, update

from xinyong.domain.identifiers import looks_like_resident_id, mask_resident_id
from xinyong.due_process.notices import counted_records, issue_notice
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.effective import current_subjects
from xinyong.ledger.schema import listings
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.reference import Explanation

__all__ = ["PublicEntry", "mask_id", "mask_name", "public_entries", "update_listings"]


def mask_id(subject_id: str, kind: str) -> str:
    """A subject id as the public may see it."""
    if kind == "organization":
        return subject_id
    if looks_like_resident_id(subject_id):
        return mask_resident_id(subject_id)
    keep = min(2, len(subject_id) // 3)
    return subject_id[:keep] + "*" * max(3, len(subject_id) - keep)


def mask_name(name: str | None, kind: str) -> str:
    """A display name as the public may see it: the family name only, for persons."""
    if not name:
        return ""
    if kind == "organization":
        return name
    if name.isascii():
        family = name.split()[-1] if " " in name else name[:1]
        return f"{family} *"
    return name[:1] + "*" * max(1, len(name) - 1)


@dataclass(frozen=True, slots=True)
class PublicEntry:
    """One public list entry."""

    subject: str
    name: str
    kind: str
    listed_on: date
    public_from: date


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
        select(listings.c.list_id).where(
            listings.c.scheme_id == scheme.id,
            listings.c.subject_id == subject_id,
            listings.c.delisted_on.is_(None),
        )
    ).all()
    open_now = {str(r.list_id) for r in rows}
    for list_id in sorted(open_now - now_on):
        conn.execute(
            update(listings)
            .where(
                listings.c.scheme_id == scheme.id,
                listings.c.list_id == list_id,
                listings.c.subject_id == subject_id,
                listings.c.delisted_on.is_(None),
            )
            .values(delisted_on=today)
        )
    opened = sorted(now_on - open_now)
    if opened and explanation is not None:
        public_from = today + timedelta(days=grace_days)
        for list_id in opened:
            conn.execute(
                insert(listings).values(
                    scheme_id=scheme.id,
                    list_id=list_id,
                    subject_id=subject_id,
                    listed_on=today,
                    noticed_at=utc_now_text(),
                    public_from=public_from,
                )
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


def public_entries(
    conn: Connection,
    loaded: LoadedScheme,
    list_id: str,
    today: date,
    *,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[PublicEntry]]:
    """Disclosed, current entries of a list whose grace period is over, newest first."""
    lst = next((x for x in loaded.scheme.lists if x.id == list_id), None)
    if lst is None or not lst.disclose:
        return 0, []
    who = current_subjects().subquery()
    condition = (
        (listings.c.scheme_id == loaded.scheme.id)
        & (listings.c.list_id == list_id)
        & listings.c.delisted_on.is_(None)
        & (listings.c.public_from <= today)
    )
    total = conn.execute(select(func.count()).select_from(listings).where(condition)).scalar()
    rows = conn.execute(
        select(
            listings.c.subject_id,
            listings.c.listed_on,
            listings.c.public_from,
            who.c.kind,
            who.c.display_name,
        )
        .join(who, who.c.subject_id == listings.c.subject_id)
        .where(condition)
        .order_by(listings.c.listed_on.desc(), listings.c.subject_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total or 0), [
        PublicEntry(
            mask_id(r.subject_id, r.kind),
            mask_name(r.display_name, r.kind),
            r.kind,
            r.listed_on,
            r.public_from,
        )
        for r in rows
    ]
