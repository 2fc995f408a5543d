"""After a change to subjects' records: refresh listings and push corrections."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from xinyong.application.context import Context
from xinyong.due_process.refresh import apply_refresh, plan_refresh
from xinyong.ledger.append import read_size
from xinyong.ledger.database import INQUIRY_SCHEMA, WRITE_LOCK, take_write_lock
from xinyong.ledger.related_index import people_named_by

__all__ = ["after_changes"]


def after_changes(ctx: Context, subject_ids: Iterable[str], today: date | None = None) -> list[str]:
    """Recompute the subjects' listings and queue corrections; return the queued message ids.

    The standings, and the answers recent checks would get now, are worked out in a read
    transaction, so the write lock is held only to write what changed, usually nothing. If the
    ledger grew in between, or the plan corrects an answer, the plan is worked out again under
    the lock, so a slower refresh never overwrites the result of a newer one, nor logs a
    correction another has logged. On SQLite the inquiry log's file is locked too
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
            # Corrections are logged beside the checks they correct, after reading them anew
            # under the log's lock: another refresh of the same subjects may have logged the
            # same corrections since this plan was made (a batch of duplicates, submitted again
            # while the first submission's refresh ran, appends nothing, so the ledger's size
            # does not show it).
            take_write_lock(conn, INQUIRY_SCHEMA)
            plan = plan_refresh(conn, ctx.registry, ids, today, ctx.catalog, window)
        return apply_refresh(conn, plan, today, grace_days=ctx.settings.grace_days)
