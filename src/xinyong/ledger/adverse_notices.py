"""Adverse-check notices, held in the inquiry log through the checks that send them.

A check whose sanction applies writes a notice to its subject in the same transaction as its
inquiry (:mod:`xinyong.decisions.checks`). The notice is a function of the check: its id is
derived from the decision's (:func:`adverse_notice_id`), its subject is the check's, its time
the check's ``made_at``, and its body is fixed when the check is decided. So the inquiry's
entry in the inquiry log's tree carries the SHA-256 of the notice's body (``notice_hash``, the
last hashed column; :data:`SENT_NONE` for a check that sent none), and
:func:`verify_adverse_notices` holds every notice to its check: a notice edited, readdressed,
deleted, or added behind the log's back is named.

Checks logged before revision 0018 have no hash (NULL, left out of their leaves, which hash as
they did): their notices are held to them by id, but their bodies cannot be checked.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Final

from sqlalchemy import Connection, or_, select, union_all

from xinyong.ledger.schema import inquiries, notices, pending_notices

__all__ = [
    "ADVERSE_CHECK_KIND",
    "SENT_NONE",
    "NoticeProblem",
    "adverse_notice_id",
    "notice_hash",
    "verify_adverse_notices",
]

ADVERSE_CHECK_KIND: Final = "adverse-check"
"""The kind of notice a check whose sanction applies sends its subject."""

_NOTICE_IDS: Final = uuid.UUID("8f7d9c2e-5b1a-4f3e-9d6c-0a1b2c3d4e5f")


def adverse_notice_id(decision_id: str) -> str:
    """The id of a check's adverse notice, derived from the decision's: a batch written again
    after its commit's reply was lost adds no second notice (``ON CONFLICT (notice_id)``)."""
    return str(uuid.uuid5(_NOTICE_IDS, decision_id))


def notice_hash(body: str) -> str:
    """The hash an inquiry's entry holds of its adverse notice: SHA-256 of the stored body
    text, as lowercase hex."""
    return hashlib.sha256(body.encode()).hexdigest()


NoticeProblem = tuple[int | None, str]
"""What :func:`verify_adverse_notices` found: the check's position in the inquiry log (None
for a notice no check sent), and what is wrong."""

SENT_NONE: Final = ""
"""``notice_hash`` of a check that sent no adverse notice (None: a check logged before the log
held notices, revision 0018)."""


def verify_adverse_notices(conn: Connection) -> Iterator[NoticeProblem]:
    """Hold every adverse-check notice to the check that sent it (both tables on SQLite: a
    notice waits beside the inquiry log until it is moved, and may be in both meanwhile).

    A check logged since revision 0018 names the notice it sent by hash, or that it sent none
    (``""``), so a notice must be the one a check names. Notices from before cannot be checked
    so: the notice of a check logged without the column is held to that check by its id only,
    and a notice no check names (before revision 0012 a notice's id was its own) is named only
    when it is dated after the newest check logged before 0018. Memory: the ids of the checks
    that sent notices, nothing per notice."""
    expected: dict[str, tuple[int | None, str, str, str]] = {}
    legacy: set[str] = set()
    legacy_until = ""
    q = inquiries.c
    rows = conn.execute(
        select(q.decision_id, q.position, q.subject_id, q.made_at, q.notice_hash).where(
            or_(q.notice_hash.is_(None), q.notice_hash != SENT_NONE)
        )
    )
    for decision_id, position, subject_id, made_at, digest in rows:
        notice_id = adverse_notice_id(str(decision_id))
        if digest is None:
            legacy.add(notice_id)
            legacy_until = max(legacy_until, str(made_at))
        else:
            expected[notice_id] = (position, str(subject_id), str(made_at), str(digest))
    columns = ("notice_id", "subject_id", "created_at", "body")
    both = union_all(
        *(
            select(*(t.c[c] for c in columns)).where(t.c.kind == ADVERSE_CHECK_KIND)
            for t in (notices, pending_notices)
        )
    ).subquery()
    last: tuple[str, str, str, str] | None = None
    for row in conn.execute(select(both).order_by(both.c.notice_id)):
        notice = (str(row[0]), str(row[1]), str(row[2]), str(row[3]))
        if last is not None and notice[0] == last[0]:  # a copy, mid-move: the same notice
            if notice != last:
                yield None, f"adverse notice {notice[0]} differs from its copy beside the log"
            continue
        last = notice
        yield from _held_to_check(notice, expected, legacy, legacy_until)
    for notice_id, (position, *_) in sorted(expected.items(), key=lambda i: i[1][0] or 0):
        yield position, f"adverse notice {notice_id}, sent with the check, was deleted"


def _held_to_check(
    notice: tuple[str, str, str, str],
    expected: dict[str, tuple[int | None, str, str, str]],
    legacy: set[str],
    legacy_until: str,
) -> Iterator[NoticeProblem]:
    """The notice against the check that names it (taken out of ``expected``)."""
    notice_id, subject_id, created_at, body = notice
    check = expected.pop(notice_id, None)
    if check is None:
        if notice_id not in legacy and created_at > legacy_until:
            yield None, f"adverse notice {notice_id} was sent by no check that applied"
        return
    position, subject, made_at, digest = check
    if subject_id != subject or created_at != made_at:
        yield position, f"adverse notice {notice_id} is not addressed as its check sent it"
    elif notice_hash(body) != digest:
        yield position, f"adverse notice {notice_id} was edited: its body is not the one logged"
