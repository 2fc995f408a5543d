"""What a subject files: objections (with the deadline that applies to the record, the source
told in the same transaction) and information added to them, credit repair requests, requests
for human review and appeals. The API (``POST /v1/me/objections``, ``/v1/me/repairs``,
``/v1/me/reviews``, ``/v1/me/appeals``, ``/v1/me/objections/{id}/information``) and the
portal's forms (``/me/...``) run these same functions.

Each files in a transaction that takes the database's write lock at its start (``BEGIN
IMMEDIATE`` on SQLite): it reads before it writes (is the record the subject's, is an objection
open), and a SQLite transaction that began as a reader cannot become a writer once another
connection has written meanwhile ("database is locked" at once, whatever the busy timeout). On
PostgreSQL a lock named after the subject serialises the subject's filings instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from xinyong.application.context import Context
from xinyong.domain.refusals import NotAllowed
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.appeals import Appeal, file_appeal
from xinyong.due_process.disputes import add_information, notify_furnisher
from xinyong.due_process.objections import Objection, file_objection, objection_days
from xinyong.due_process.repairs import Repair, request_repair
from xinyong.due_process.reviews import Review, request_review
from xinyong.ledger.database import WRITE, hold_lock

__all__ = [
    "add_objection_information",
    "file_subject_appeal",
    "file_subject_objection",
    "file_subject_repair",
    "file_subject_review",
]


@contextmanager
def _filing(ctx: Context, subject_id: str) -> Iterator[Connection]:
    """A transaction for one of the subject's filings, serialised with the subject's others:
    two filings at once must not both find no open objection (or review) and both add one."""
    with ctx.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        hold_lock(conn, f"filing:{subject_id}")
        yield conn


def file_subject_objection(
    ctx: Context,
    subject_id: str,
    source: str,
    record_id: str,
    reason: str,
    evidence: str | None,
) -> Objection:
    """File an objection; NotAllowed when the record is not the subject's, the reason is empty or
    an objection to it is still open."""
    plain_or_raise(
        NotAllowed, source=source, record_id=record_id, reason=reason, evidence=evidence or ""
    )
    with _filing(ctx, subject_id) as conn:
        days = objection_days(
            conn,
            ctx.registry.active(conn),
            source,
            record_id,
            ctx.settings.objection_deadline(source),
        )
        objection = file_objection(
            conn, subject_id, source, record_id, reason, evidence, ctx.today(), days
        )
        notify_furnisher(conn, objection)
        return objection


def add_objection_information(
    ctx: Context, subject_id: str, objection_id: str, information: str
) -> Objection:
    """Add information to an open objection: its deadline extends once, the source is told."""
    with _filing(ctx, subject_id) as conn:
        return add_information(
            conn,
            subject_id,
            objection_id,
            information,
            ctx.today(),
            ctx.settings.dispute_extension_days,
        )


def file_subject_repair(
    ctx: Context, subject_id: str, source: str, record_id: str, reason: str
) -> Repair:
    """Apply for credit repair; NotAllowed before the minimum display period, for a positive
    record or for a record that is not the subject's."""
    plain_or_raise(NotAllowed, source=source, record_id=record_id, reason=reason)
    with _filing(ctx, subject_id) as conn:
        return request_repair(conn, subject_id, source, record_id, reason, ctx.today(), ctx.catalog)


def file_subject_review(
    ctx: Context, subject_id: str, target_kind: str, target: str, reason: str
) -> Review:
    """Ask for a person to review a check, a listing or a standing about oneself."""
    with _filing(ctx, subject_id) as conn:
        active = {loaded.scheme.id for loaded in ctx.registry.active(conn)}
        return request_review(
            conn,
            subject_id,
            target_kind,
            target,
            reason,
            ctx.today(),
            ctx.settings.review_days,
            active,
        )


def file_subject_appeal(
    ctx: Context, subject_id: str, target_kind: str, target_id: str, reason: str
) -> Appeal:
    """Appeal a rejected objection or repair request, once, within the appeal period."""
    with _filing(ctx, subject_id) as conn:
        return file_appeal(
            conn,
            subject_id,
            target_kind,
            target_id,
            reason,
            ctx.today(),
            ctx.settings.appeal_days,
            ctx.settings.review_days,
        )
