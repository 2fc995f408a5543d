"""What a subject files about its own records: objections (with the deadline that applies to
the record) and credit repair requests. The API (``POST /v1/me/objections``, ``/v1/me/repairs``)
and the portal's forms (``/me/objections``, ``/me/repairs``) run these same functions."""

from __future__ import annotations

from xinyong.application.context import Context
from xinyong.domain.refusals import NotAllowed
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.objections import Objection, file_objection, objection_days
from xinyong.due_process.repairs import Repair, request_repair

__all__ = ["file_subject_objection", "file_subject_repair"]


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
    with ctx.engine.connect() as conn, conn.begin():
        days = objection_days(
            conn,
            ctx.registry.active(conn),
            source,
            record_id,
            ctx.settings.objection_deadline(source),
        )
        return file_objection(
            conn, subject_id, source, record_id, reason, evidence, ctx.today(), days
        )


def file_subject_repair(
    ctx: Context, subject_id: str, source: str, record_id: str, reason: str
) -> Repair:
    """Apply for credit repair; NotAllowed before the minimum display period, for a positive
    record or for a record that is not the subject's."""
    plain_or_raise(NotAllowed, source=source, record_id=record_id, reason=reason)
    with ctx.engine.connect() as conn, conn.begin():
        return request_repair(conn, subject_id, source, record_id, reason, ctx.today(), ctx.catalog)
