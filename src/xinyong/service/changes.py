"""After a change to subjects' records: refresh listings and push corrections."""

from __future__ import annotations

from collections.abc import Iterable

from xinyong.due_process.refresh import refresh_subjects
from xinyong.ledger.database import WRITE_LOCK
from xinyong.service.context import Context

__all__ = ["after_changes"]


def after_changes(ctx: Context, subject_ids: Iterable[str]) -> list[str]:
    """Recompute the subjects' listings and queue corrections in one write transaction; return
    the queued message ids."""
    ids = sorted(set(subject_ids))
    if not ids:
        return []
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        return refresh_subjects(
            conn,
            ctx.registry,
            ids,
            ctx.today(),
            ctx.catalog,
            grace_days=ctx.settings.grace_days,
            correction_window_days=ctx.settings.correction_window_days,
        )
