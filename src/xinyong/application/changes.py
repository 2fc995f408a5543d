"""After a change to subjects' records: refresh listings and push corrections."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, select

from xinyong.application.context import Context
from xinyong.domain.chunks import chunked
from xinyong.due_process.refresh import apply_refresh, plan_refresh
from xinyong.ingest.records import IngestReport
from xinyong.ledger.append import read_size
from xinyong.ledger.database import INQUIRY_SCHEMA, WRITE_LOCK, take_write_lock
from xinyong.ledger.related_index import people_named_by
from xinyong.ledger.schema import subjects
from xinyong.schemes.reads import reads_code

__all__ = ["after_changes", "after_records"]


def after_records(ctx: Context, report: IngestReport, today: date) -> list[str]:
    """:func:`after_changes` for the subjects a submitted batch of records names, less those
    it cannot have changed: registered before the batch, with records of codes that no active
    scheme reads (:func:`~xinyong.schemes.reads.reads_code`: an interaction under schemes
    without a peer section, say). Such records change no standing under any scheme, so no list
    and no answer; a subject the batch registers may enter a list by its base grade, and is
    refreshed whatever its codes."""
    if not report.accepted or report.head is None:
        return []
    with ctx.engine.connect() as conn:
        active = [loaded.scheme for loaded in ctx.registry.active(conn)]
        read = {
            subject_id
            for subject_id, codes in report.named.items()
            if any(reads_code(scheme, code) for scheme in active for code in codes)
        }
        unread = sorted(set(report.named) - read)
        # the batch's entries are the last ones before its head: subjects it registered are
        # at or after this position (a later batch's may be too, and are refreshed as well)
        first = report.head.size - report.accepted - report.new_subjects
        registered = _registered_since(conn, unread, first) if unread else set()
    return after_changes(ctx, read | registered, today)


def _registered_since(conn: Connection, subject_ids: list[str], position: int) -> set[str]:
    s = subjects.c
    found: set[str] = set()
    for chunk in chunked(subject_ids):
        query = select(s.subject_id).where(s.subject_id.in_(chunk), s.position >= position)
        found.update(str(subject_id) for (subject_id,) in conn.execute(query))
    return found


def after_changes(ctx: Context, subject_ids: Iterable[str], today: date | None = None) -> list[str]:
    """Recompute the subjects' listings and queue corrections; return the queued message ids.

    The standings, and the answers recent checks would get now, are worked out in a read
    transaction, so the write lock is held only to write what changed, usually nothing. If the
    ledger grew in between, the plan is worked out again under the lock, so a slower refresh
    never overwrites the result of a newer one. On SQLite the inquiry log's file is locked too
    only when an answer changed (the corrected decision is logged there): otherwise checks go on
    being logged while the records of a batch are refreshed.
    """
    ids = sorted(set(subject_ids))
    if not ids:
        return []
    today, window = today or ctx.today(), ctx.settings.correction_window_days
    with ctx.engine.connect() as conn, conn.begin():
        # a measure that extends to an organisation's people: their answers may change too
        ids = sorted(set(ids) | people_named_by(conn, ids))
        plan = plan_refresh(conn, ctx.registry, ids, today, ctx.catalog, window)
    if plan.empty:
        return []
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        stale = read_size(conn) != plan.size
        if stale or plan.corrections:
            # Corrections are logged beside the checks they correct (after reading them anew,
            # if the ledger moved on): take the log's lock before reading it.
            take_write_lock(conn, INQUIRY_SCHEMA)
        if stale:
            plan = plan_refresh(conn, ctx.registry, ids, today, ctx.catalog, window)
        return apply_refresh(conn, plan, today, grace_days=ctx.settings.grace_days)
