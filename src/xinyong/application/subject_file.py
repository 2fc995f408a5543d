"""The subject's own file, as served by ``GET /v1/me`` and the portal's ``/me``: every record
with its status, source and events, the standing and its explanation under each active scheme,
every check made, notices, objections and repair requests.

Ratings the subject received name their raters by pseudonym only (``rater 1``...), the same in
the records and in the peer explanations (:mod:`xinyong.peer.pseudonyms`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, or_, select

from xinyong.application.context import Context
from xinyong.decisions.notices import notices_for
from xinyong.decisions.related import related_facts, related_measure, relations_of
from xinyong.decisions.standing import standing_of
from xinyong.domain.catalog import Polarity
from xinyong.domain.peer_records import RATING
from xinyong.due_process.appeals import appealable, list_appeals
from xinyong.due_process.objections import list_objections
from xinyong.due_process.repairs import list_repairs, repair_available_from
from xinyong.due_process.reviews import list_reviews
from xinyong.ledger.append import read_head
from xinyong.ledger.effective import subject_version
from xinyong.ledger.related_index import relation_records_naming
from xinyong.ledger.schema import events, inquiries, records
from xinyong.peer.pseudonyms import RaterLabels
from xinyong.peer.ratings import SeedsAbsent
from xinyong.scoring.explanation import explanation_json

__all__ = ["subject_file"]


def _about(subject_id: str, naming: list[int]) -> ColumnElement[bool]:
    """The subject's own records, and the relation records (at ``naming``) that name them."""
    own = records.c.subject_id == subject_id
    return or_(own, records.c.position.in_(naming)) if naming else own


def _lifecycle(conn: Connection, about: ColumnElement[bool]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for e in conn.execute(
        select(events)
        .join(
            records,
            (records.c.source == events.c.source) & (records.c.record_id == events.c.record_id),
        )
        .where(about)
        .order_by(events.c.position)
    ):
        found.setdefault(f"{e.source}/{e.record_id}", []).append(
            {
                "event": e.event_type,
                "effective_on": e.effective_on.isoformat(),
                "reason": e.reason,
                "recorded_at": e.recorded_at,
            }
        )
    return found


def _status(
    history: list[dict[str, Any]], expired: bool, counted: bool, disputed: bool, today: date
) -> str:
    status = "in force"
    ended = [
        h
        for h in history
        if h["event"] in ("revoked", "suppressed", "corrected")
        or (h["event"] in ("repaired", "expired") and h["effective_on"] <= today.isoformat())
    ]
    if ended:
        status = str(ended[-1]["event"])
    elif expired:
        status = "expired"
    elif counted:
        status = "counting"
    if disputed and status in ("in force", "counting"):
        status = "disputed"
    return status


def _shown(
    code: str, case_id: str | None, attrs: dict[str, Any], raters: RaterLabels
) -> tuple[str | None, dict[str, Any]]:
    """A record's case id and attributes as its subject sees them: a rating names its rater by
    pseudonym and hides its interaction (whose other party is the rater)."""
    if code != RATING:
        return case_id, attrs
    rater = attrs.get("rater")
    return None, ({**attrs, "rater": raters.label(rater)} if isinstance(rater, str) else attrs)


def _records(
    conn: Connection,
    ctx: Context,
    subject_id: str,
    counted: set[str],
    disputed: set[str],
    raters: RaterLabels,
) -> list[dict[str, Any]]:
    today = ctx.today()
    naming = [position for position, _ in relation_records_naming(conn, subject_id)]
    about = _about(subject_id, naming)
    lifecycle = _lifecycle(conn, about)
    out = []
    for r in conn.execute(
        select(records).where(about).order_by(records.c.occurred_at, records.c.position)
    ):
        key = f"{r.source}/{r.record_id}"
        entry = ctx.catalog.get(r.code)
        expired = entry is not None and (today - r.occurred_at).days >= entry.max_display_days
        history = lifecycle.get(key, [])
        negative = entry is None or entry.polarity is Polarity.NEGATIVE
        case_id, attrs = _shown(r.code, r.case_id, orjson.loads(r.attrs), raters)
        out.append(
            {
                "record": key,
                "about": r.subject_id,
                "code": r.code,
                "description": entry.description if entry else "",
                "occurred_at": r.occurred_at.isoformat(),
                "source": r.source,
                "case_id": case_id,
                "attrs": attrs,
                "evidence": r.evidence,
                "recorded_at": r.recorded_at,
                "legal_basis": entry.legal_basis if entry else "",
                "status": _status(history, expired, key in counted, key in disputed, today),
                "repair_from": repair_available_from(r.occurred_at, r.code, ctx.catalog).isoformat()
                if negative
                else None,
                "events": history,
            }
        )
    return out


def _related(
    conn: Connection, ctx: Context, subject_id: str, size: int
) -> dict[str, list[dict[str, Any]]]:
    """The roles the subject holds in organisations today, and the measures that reach them
    through those roles (:mod:`xinyong.decisions.related`)."""
    today = ctx.today()
    held = relations_of(conn, subject_id, today, size, ctx.catalog)
    reaching = []
    for loaded in ctx.registry.active(conn) if held else ():
        for measure in loaded.scheme.measures:
            found = related_measure(
                conn, loaded, measure, subject_id, today, size, ctx.catalog, held
            )
            if found is not None:
                reaching.append(
                    {
                        "scheme": loaded.scheme.id,
                        "measure": measure.id,
                        "kind": measure.kind,
                        "description": measure.description,
                        "basis": measure.basis,
                        **related_facts(found)["related"],
                    }
                )
    relations = [
        {
            "organization": r.organization,
            "role": r.role,
            "since": r.since.isoformat(),
            "until": r.until.isoformat() if r.until else None,
            "record": r.record,
        }
        for r in held
    ]
    return {"relations": relations, "related_measures": reaching}


def subject_file(conn: Connection, ctx: Context, subject_id: str) -> dict[str, Any]:
    """Everything the ledger holds about ``subject_id``, and everyone who checked them."""
    today = ctx.today()
    head = read_head(conn)
    who = subject_version(conn, subject_id)
    standings = []
    not_scored = []
    counted: set[str] = set()
    raters = RaterLabels()
    for loaded in ctx.registry.active(conn):
        try:
            standing = standing_of(conn, loaded, subject_id, today, head.size, ctx.catalog)
        except SeedsAbsent as exc:  # the scheme scores nobody now: say so, show the rest
            not_scored.append(
                {"scheme": loaded.scheme.id, "name": loaded.scheme.name, "reason": exc.args[0]}
            )
            continue
        if standing.ineligible is not None:
            not_scored.append(
                {
                    "scheme": loaded.scheme.id,
                    "name": loaded.scheme.name,
                    "reason": standing.ineligible,
                }
            )
        if standing.explanation is None:
            continue
        counted |= {c.record.key for c in standing.explanation.records if c.counted}
        if standing.explanation.peer is not None:
            counted |= {r.record for r in standing.explanation.peer.ratings}
        standings.append(
            {
                "scheme": loaded.scheme.id,
                "name": loaded.scheme.name,
                **explanation_json(standing.explanation, loaded.version, raters),
            }
        )
    related = _related(conn, ctx, subject_id, head.size)
    objections = list_objections(conn, subject_id=subject_id)
    disputed = {o.key for o in objections if o.status == "open"}
    checks = [
        {
            "decision_id": q.decision_id,
            "relying_party": q.relying_party,
            "measure": q.measure,
            "applies": bool(q.applies),
            "made_at": q.made_at,
            "scheme": q.scheme_id,
            "entry": q.position,  # its place in the inquiry log's tree: proof on request
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
        "records": _records(conn, ctx, subject_id, counted, disputed, raters),
        "standings": standings,
        "not_scored": not_scored,
        **related,
        "checks": checks,
        "notices": notices_for(conn, subject_id),
        "objections": [o.json() for o in objections],
        "repairs": [r.json() for r in list_repairs(conn, subject_id=subject_id)],
        "reviews": [r.json() for r in list_reviews(conn, subject_id=subject_id)],
        "appeals": [a.json() for a in list_appeals(conn, subject_id=subject_id)],
        "appealable": appealable(conn, subject_id, today, ctx.settings.appeal_days),
    }
