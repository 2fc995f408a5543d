"""After a change to a subject's records: refresh listings and push corrections."""

from __future__ import annotations

from xinyong.due_process.refresh import refresh_subject
from xinyong.ledger.database import WRITE_LOCK
from xinyong.service.context import Context

__all__ = ["after_change"]


def after_change(ctx: Context, subject_id: str) -> list[str]:
    """Recompute a subject's listings and queue corrections; return queued message ids."""
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        return refresh_subject(
            conn,
            ctx.registry,
            subject_id,
            ctx.today(),
            ctx.catalog,
            grace_days=ctx.settings.grace_days,
            correction_window_days=ctx.settings.correction_window_days,
        )
