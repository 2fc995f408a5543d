"""Adverse-check notices, held in the inquiry log through the checks that send them.

A check whose sanction applies writes a notice to its subject in the same transaction as its
inquiry (:mod:`xinyong.decisions.checks`). The notice is a function of the check: its id is
derived from the decision's (:func:`adverse_notice_id`), its subject is the check's, its time
the check's ``made_at``, and its body is fixed when the check is decided. So the inquiry's
entry in the inquiry log's tree carries the SHA-256 of the notice's body (``notice_hash``, the
last hashed column, left out of the leaf when a check sent no notice), and
:func:`verify_adverse_notices` holds every such notice to its check: a notice edited, deleted,
or added behind the log's back is named.

Checks logged before revision 0018 carry no hash; their notices are held to a check that
applied and names them, but their bodies cannot be checked.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Final

from sqlalchemy import Connection, select, union_all

from xinyong.ledger.schema import inquiries, notices, pending_notices

__all__ = [
    "ADVERSE_CHECK_KIND",
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


def verify_adverse_notices(conn: Connection) -> Iterator[NoticeProblem]:
    """Hold every adverse-check notice to the check that sent it (both tables on SQLite: a
    notice waits beside the inquiry log until it is moved)."""
    expected: dict[str, tuple[int | None, str, str, str]] = {}
    legacy: set[str] = set()
    q = inquiries.c
    rows = conn.execute(
        select(q.decision_id, q.position, q.subject_id, q.made_at, q.notice_hash).where(
            q.applies.is_(True)
        )
    )
    for decision_id, position, subject_id, made_at, digest in rows:
        notice_id = adverse_notice_id(str(decision_id))
        if digest is None:
            legacy.add(notice_id)
        else:
            expected[notice_id] = (position, str(subject_id), str(made_at), str(digest))
    columns = ("notice_id", "subject_id", "created_at", "body")
    stored = union_all(
        *(
            select(*(t.c[c] for c in columns)).where(t.c.kind == ADVERSE_CHECK_KIND)
            for t in (notices, pending_notices)
        )
    ).subquery()
    seen: dict[str, tuple[str, str, str]] = {}
    for notice_id, subject_id, created_at, body in conn.execute(select(stored)):
        found = (str(subject_id), str(created_at), str(body))
        if seen.setdefault(str(notice_id), found) != found:  # being moved: both copies alike
            yield None, f"adverse notice {notice_id} differs from its copy beside the log"
    for notice_id, (subject_id, created_at, body) in sorted(seen.items()):
        check = expected.pop(notice_id, None)
        if check is None:
            if notice_id not in legacy:
                yield None, f"adverse notice {notice_id} was sent by no check that applied"
            continue
        position, subject, made_at, digest = check
        if subject_id != subject or created_at != made_at:
            yield position, f"adverse notice {notice_id} is not addressed as its check sent it"
        elif notice_hash(body) != digest:
            yield position, f"adverse notice {notice_id} was edited: its body is not the one logged"
    for notice_id, (position, _, _, _) in sorted(expected.items(), key=lambda i: i[1][0] or 0):
        yield position, f"adverse notice {notice_id}, sent with the check, was deleted"
