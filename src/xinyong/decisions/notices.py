"""Notices to subjects: every adverse step names its records, rules, scheme version and rights.

A notice is stored and shown in the subject's file. Its body is JSON so that the portal, the API
and an export can all render it. Checks write adverse-check notices here, and due process writes
its own (objections, repairs, disclosure) through the same :func:`issue_notice`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select

from xinyong.domain.chunks import chunked
from xinyong.i18n import N_
from xinyong.ledger.adverse_notices import (
    ADVERSE_CHECK_KIND,
    SENT_NONE,
    adverse_notice_id,
    notice_hash,
)
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.database import INQUIRY_SCHEMA, WRITE, take_write_lock
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import inquiries, notices, pending_notices
from xinyong.scoring.reference import Explanation

__all__ = [
    "ADVERSE_CHECK",
    "NOTICE_COLUMNS",
    "RIGHTS",
    "adverse_facts",
    "adverse_notice_id",
    "counted_records",
    "issue_notice",
    "move_pending_notices",
    "notice_row",
    "notices_for",
    "sent_notices",
]

RIGHTS = (
    N_(
        "You may see your whole file, including every record, its source, and everyone who "
        "checked a measure about you."
    ),
    N_(
        "You may object to any record; an objection not decided by its deadline suppresses the "
        "record."
    ),
    N_(
        "You may ask for a person, not a program, to review any decision or listing about you: "
        "from your file (/me#reviews) or POST /v1/me/reviews; a reviewer decides by a deadline, "
        "with a written reason."
    ),
    N_("After a record's minimum display period you may apply for credit repair."),
    N_(
        "A rejected objection or repair request may be appealed once, within its appeal period "
        "(/me#appeals or POST /v1/me/appeals); another operator decides."
    ),
)
"""The rights every notice states (FCRA adverse-action notice, GDPR Art. 22 and Recital 71).
Stored in English in each notice's body (which is hashed, so never rewritten); marked for
translation, so that the portal shows a stored right in the reader's language."""


def counted_records(explanation: Explanation) -> list[dict[str, Any]]:
    """The records that counted, as shown in notices."""
    return [
        {
            "record": c.record.key,
            "code": c.record.code,
            "occurred_at": c.record.occurred_at.isoformat(),
            "rule": c.rule_id,
            "contribution": round(c.contribution, 2),
        }
        for c in explanation.records
        if c.counted
    ]


def adverse_facts(explanation: Explanation) -> dict[str, Any]:
    """What an adverse-check notice names about the standing: the lists the subject is on and
    the records that counted. Stored with a batch refresh's standings (as JSON), so that a
    sanctioned check answered from the stored standing names the same."""
    return {"lists": list(explanation.standing.lists), "records": counted_records(explanation)}


def issue_notice(conn: Connection, subject_id: str, kind: str, body: Mapping[str, Any]) -> str:
    """Store a notice to ``subject_id`` (an entry of the operations log); return its id. A
    check's adverse notice is written with its inquiry instead
    (:func:`xinyong.decisions.checks.inquiry_rows`)."""
    row = notice_row(subject_id, kind, body)
    conn.execute(insert(notices).values(row))
    log_rows(conn, notices, notices.c.notice_id == row["notice_id"])
    return row["notice_id"]


ADVERSE_CHECK = ADVERSE_CHECK_KIND
"""The kind of the notice a check whose sanction applies sends its subject."""


def notice_row(
    subject_id: str,
    kind: str,
    body: Mapping[str, Any],
    notice_id: str | None = None,
    created_at: str | None = None,
) -> dict[str, str]:
    """A new notice as a row of :data:`notices`: its id (new unless given), its time (now unless
    given), and its body with the rights."""
    payload = {**body, "rights": list(RIGHTS)}
    return {
        "notice_id": notice_id or str(uuid.uuid4()),
        "subject_id": subject_id,
        "kind": kind,
        "created_at": created_at or utc_now_text(),
        "body": orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode(),
    }


NOTICE_COLUMNS = ("notice_id", "subject_id", "kind", "created_at", "body")
"""The columns of :data:`notices` (and of :data:`pending_notices`), as :func:`notice_row` fills
them."""
_COLUMNS = ", ".join(NOTICE_COLUMNS)


def move_pending_notices(engine: Engine) -> int:
    """Move notices written beside the inquiry log into :data:`notices` (SQLite); return how
    many were added.

    Two transactions, one per file, each holding only its own file's write lock: first copy
    (a notice already there is not copied twice), then delete what was copied. A move cut short
    between the two is finished by the next; meanwhile :func:`notices_for` shows a notice once.
    Nothing pending, no lock is taken (it runs after every checkpoint of the log).
    """
    with engine.connect() as conn:
        if conn.exec_driver_sql("SELECT 1 FROM pending_notices LIMIT 1").first() is None:
            return 0
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        moved = conn.exec_driver_sql(
            f"INSERT OR IGNORE INTO main.notices ({_COLUMNS}) "
            f"SELECT {_COLUMNS} FROM pending_notices"
        ).rowcount
    with engine.connect() as conn, conn.begin():
        take_write_lock(conn, INQUIRY_SCHEMA)
        conn.exec_driver_sql(
            "DELETE FROM pending_notices WHERE notice_id IN (SELECT notice_id FROM main.notices)"
        )
    return int(moved)


def notices_for(conn: Connection, subject_id: str) -> list[dict[str, Any]]:
    """A subject's notices, newest first."""
    columns = ("notice_id", "kind", "created_at", "body")
    stored, pending = (
        select(*(table.c[name] for name in columns)).where(table.c.subject_id == subject_id)
        for table in (notices, pending_notices)
    )
    both = stored.union(pending).subquery()  # a notice being moved may be in both for a moment
    rows = conn.execute(select(both).order_by(both.c.created_at.desc())).all()
    return [
        {
            "notice_id": r.notice_id,
            "kind": r.kind,
            "created_at": r.created_at,
            **orjson.loads(r.body),
        }
        for r in rows
    ]


def sent_notices(
    conn: Connection, subject_id: str, decision_id: str | None = None
) -> dict[str, dict[str, Any]]:
    """The adverse notices the subject's checks sent (only ``decision_id``'s, if given), by
    decision id: each as its check's entry in the inquiry log holds it (by its hash), so a
    check logged without one (before revision 0018) has none here, nor has a notice that is not
    the one logged."""
    q = inquiries.c
    query = select(q.decision_id, q.notice_hash).where(
        q.subject_id == subject_id, q.notice_hash.is_not(None), q.notice_hash != SENT_NONE
    )
    if decision_id is not None:
        query = query.where(q.decision_id == decision_id)
    hashes = {adverse_notice_id(str(d)): (str(d), str(h)) for d, h in conn.execute(query)}
    found: dict[str, dict[str, Any]] = {}
    for part in chunked(sorted(hashes)):
        # Beside the log first: a notice being moved is copied, then deleted from there, so
        # it is in one or the other of two reads in this order (on SQLite, one_snapshot).
        for table in (pending_notices, notices):
            rows = conn.execute(
                select(table.c.notice_id, table.c.body).where(table.c.notice_id.in_(part))
            )
            for notice_id, body in rows:
                logged, digest = hashes[str(notice_id)]
                if notice_hash(str(body)) == digest:
                    found[logged] = orjson.loads(body)
    return found
