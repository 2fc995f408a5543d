"""Human review on request (GDPR Art. 22(3), PIPL Art. 24): a subject asks a person, not a
program, to look again at an automated decision about them.

What can be reviewed:

- ``check``: an answer a relying party received (by its decision id);
- ``listing``: a place on a list (``SCHEME/LIST``), current or past;
- ``standing``: the score and grade under an active scheme (by the scheme's id).

An operator decides by the deadline (setting ``review_days``, 15 by default) with a written
reason: *confirmed*, or *changed*, naming the subject's records the reviewer found wrong; each
gets a ``revoked`` event (it never counts again), so the change reaches every standing, list and
relying party the same way an upheld objection does. Either way the subject gets a notice with
the standing after the decision. A review still open after its deadline stays in the queue,
marked overdue: nothing is decided for the reviewer.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import orjson
from sqlalchemy import Connection, Row, select, tuple_, update

from xinyong.decisions.notices import issue_notice
from xinyong.domain.refusals import AlreadyDecided, NotAllowed, NotFound, Word
from xinyong.domain.relations import in_file
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.queues import by_deadline
from xinyong.due_process.revocation import void_record
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.effective import VOIDING, EventType
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import events, inquiries, listings, records, reviews

__all__ = [
    "TARGET_KINDS",
    "Review",
    "decide_review",
    "get_review",
    "list_reviews",
    "request_review",
    "reviewable_listings",
]

TARGET_KINDS = ("check", "listing", "standing")
"""What a subject may ask a person to review."""


@dataclass(frozen=True, slots=True)
class Review:
    """A request for human review and its state."""

    review_id: str
    subject_id: str
    target_kind: str
    target: str
    reason: str
    status: str
    filed_at: str
    deadline: date
    decided_at: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    voided: tuple[str, ...] = ()

    def scheme(self, conn: Connection) -> str | None:
        """The scheme whose decision is reviewed."""
        if self.target_kind == "check":
            found = conn.execute(
                select(inquiries.c.scheme_id).where(inquiries.c.decision_id == self.target)
            ).first()
            return None if found is None else str(found.scheme_id)
        return self.target.partition("/")[0]

    def json(self) -> dict[str, object]:
        """As served by the API."""
        return {
            "review_id": self.review_id,
            "subject_id": self.subject_id,
            "target_kind": self.target_kind,
            "target": self.target,
            "reason": self.reason,
            "status": self.status,
            "filed_at": self.filed_at,
            "deadline": self.deadline.isoformat(),
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
            "voided": list(self.voided),
        }


def _row(row: Row[object]) -> Review:
    values = {name: getattr(row, name) for name in Review.__dataclass_fields__}
    values["voided"] = tuple(orjson.loads(row.voided)) if row.voided else ()
    return Review(**values)


def _check_target(
    conn: Connection, subject_id: str, kind: str, target: str, active: Collection[str]
) -> None:
    """NotAllowed unless ``target`` is a decision of ``kind`` about ``subject_id``."""
    if kind == "check":
        found = conn.execute(
            select(inquiries.c.subject_id).where(inquiries.c.decision_id == target)
        ).first()
        if found is None or found.subject_id != subject_id:
            raise NotAllowed(N_("no check %(target)s about you"), target=target)
    elif kind == "listing":
        scheme_id, _, list_id = target.partition("/")
        found = conn.execute(
            select(listings.c.subject_id).where(
                listings.c.subject_id == subject_id,
                listings.c.scheme_id == scheme_id,
                listings.c.list_id == list_id,
            )
        ).first()
        if found is None:
            raise NotAllowed(N_("you are not and were not on list %(target)s"), target=target)
    elif kind == "standing":
        if target not in active:
            raise NotAllowed(N_("no active scheme %(target)s"), target=target)
    else:
        raise NotAllowed(
            N_("a review is of a %(kinds)s, not of a %(kind)r"),
            kinds=", a ".join(TARGET_KINDS),
            kind=kind,
        )


def request_review(
    conn: Connection,
    subject_id: str,
    target_kind: str,
    target: str,
    reason: str,
    today: date,
    deadline_days: int,
    active: Collection[str],
) -> Review:
    """Ask for a person to review a decision about oneself; NotAllowed for a decision that is
    not about the subject, no reason, or a target whose review is still open. ``active``: the
    ids of the schemes in force."""
    plain_or_raise(NotAllowed, target_kind=target_kind, target=target, reason=reason)
    if not reason.strip():
        raise NotAllowed(N_("a request for review needs a reason: what you think is wrong"))
    _check_target(conn, subject_id, target_kind, target, active)
    open_one = conn.execute(
        select(reviews.c.review_id).where(
            reviews.c.subject_id == subject_id,
            reviews.c.target_kind == target_kind,
            reviews.c.target == target,
            reviews.c.status == "open",
        )
    ).first()
    if open_one is not None:
        raise NotAllowed(
            N_("review %(review)s of this %(kind)s is still open"),
            review=open_one.review_id,
            kind=Word(target_kind),
        )
    review = Review(
        review_id=str(uuid.uuid4()),
        subject_id=subject_id,
        target_kind=target_kind,
        target=target,
        reason=reason.strip(),
        status="open",
        filed_at=utc_now_text(),
        deadline=today + timedelta(days=deadline_days),
    )
    conn.execute(
        reviews.insert().values(
            review_id=review.review_id,
            subject_id=subject_id,
            target_kind=target_kind,
            target=target,
            reason=review.reason,
            status="open",
            filed_at=review.filed_at,
            deadline=review.deadline,
        )
    )
    log_rows(conn, reviews, reviews.c.review_id == review.review_id)
    return review


def get_review(conn: Connection, review_id: str) -> Review:
    """One review by id (NotFound when there is none)."""
    plain_or_raise(NotFound, review_id=review_id)
    row = conn.execute(select(reviews).where(reviews.c.review_id == review_id)).first()
    if row is None:
        raise NotFound(f"no request for review {review_id}")
    return _row(row)


def list_reviews(
    conn: Connection, *, status: str | None = None, subject_id: str | None = None
) -> list[Review]:
    """Requests for review, oldest deadline first."""
    query = by_deadline(reviews, status=status, subject_id=subject_id)
    return [_row(row) for row in conn.execute(query)]


def reviewable_listings(conn: Connection, subject_id: str) -> list[str]:
    """The lists the subject is or was on, as ``SCHEME/LIST``."""
    return [
        f"{row.scheme_id}/{row.list_id}"
        for row in conn.execute(
            select(listings.c.scheme_id, listings.c.list_id)
            .where(listings.c.subject_id == subject_id)
            .distinct()
            .order_by(listings.c.scheme_id, listings.c.list_id)
        )
    ]


def _own_records(conn: Connection, subject_id: str, keys: Sequence[str]) -> list[tuple[str, str]]:
    """The named records as (source, record_id); NotAllowed for one not in the subject's file."""
    wanted = [(key.partition("/")[0], key.partition("/")[2]) for key in keys]
    r = records.c
    owned = {
        (str(row.source), str(row.record_id))
        for row in conn.execute(
            select(r.source, r.record_id, r.subject_id, r.code, r.attrs).where(
                tuple_(r.source, r.record_id).in_(wanted)
            )
        )
        if in_file(subject_id, row.subject_id, row.code, row.attrs)
    }
    for source, record_id in wanted:
        if (source, record_id) not in owned:
            raise NotAllowed(f"no record {source}/{record_id} in the subject's file")
    void = conn.execute(
        select(events.c.source, events.c.record_id)
        .where(
            tuple_(events.c.source, events.c.record_id).in_(wanted),
            events.c.event_type.in_(VOIDING),
        )
        .limit(1)
    ).first()
    if void is not None:
        raise NotAllowed(f"record {void.source}/{void.record_id} counts no more: it is void")
    return wanted


def decide_review(
    conn: Connection,
    review_id: str,
    *,
    change: bool,
    reason: str,
    operator: str,
    void: Sequence[str],
    today: date,
    active: ActiveSchemes,
) -> Review:
    """Confirm the decision, or change it by voiding the records named in ``void``
    (``SOURCE/RECORD_ID``, the subject's own). Call inside a write lock.

    NotFound for an unknown request, AlreadyDecided for one decided already, NotAllowed without
    a written reason, for a change that names no record, a record not the subject's or void
    already, or a confirmation that names some.
    """
    plain_or_raise(NotAllowed, reason=reason, **{f"void[{i}]": v for i, v in enumerate(void)})
    if not reason.strip():
        raise NotAllowed("a decision needs a written reason")
    review = get_review(conn, review_id)
    if review.status != "open":
        raise AlreadyDecided(f"review {review_id} is already {review.status}")
    keys = sorted(set(void))
    if change and not keys:
        raise NotAllowed("a change names the records found wrong: they stop counting")
    if not change and keys:
        raise NotAllowed("a confirmation voids no record: choose change to void them")
    for source, record_id in _own_records(conn, review.subject_id, keys):
        void_record(
            conn,
            EventType.REVOKED,
            source,
            record_id,
            effective_on=today,
            actor=operator,
            reason=f"human review {review_id}: {reason}",
        )
    status = "changed" if change else "confirmed"
    conn.execute(
        update(reviews)
        .where(reviews.c.review_id == review_id)
        .values(
            status=status,
            decided_at=utc_now_text(),
            decided_by=operator,
            decision_reason=reason,
            voided=orjson.dumps(keys).decode() if keys else None,
        )
    )
    log_rows(conn, reviews, reviews.c.review_id == review_id)
    scheme = review.scheme(conn)
    issue_notice(
        conn,
        review.subject_id,
        f"review-{status}",
        {
            "review_id": review_id,
            "reviewed": {"kind": review.target_kind, "target": review.target},
            "decision": status,
            "reason": reason,
            "decided_by": operator,
            "voided": keys,
            "standing_now": active.standings(
                conn, review.subject_id, today, [] if scheme is None else [scheme]
            ),
        },
    )
    return get_review(conn, review_id)
