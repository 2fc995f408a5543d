"""The periodic use cases of a deployment, run by ``xinyong worker`` (:mod:`xinyong.worker`) and,
for the sweep, on an operator's request (``POST /v1/sweep``)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.due_process.objections import lapse_overdue
from xinyong.due_process.refresh import refresh_all
from xinyong.ledger.append import read_size
from xinyong.ledger.database import WRITE_LOCK, hold_lock
from xinyong.ledger.schema import standing_runs

__all__ = ["REFRESH_LOCK", "refresh_once", "sweep_once"]

log = logging.getLogger("xinyong.worker")

REFRESH_LOCK = "standings-refresh"
"""Held while a worker decides whether to refresh and refreshes (one at a time)."""


def sweep_once(ctx: Context) -> tuple[list[str], int]:
    """Lapse overdue objections, refresh their subjects; return (lapsed ids, corrections)."""
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        lapsed = lapse_overdue(
            conn, ctx.today(), ctx.active_schemes(conn), suppress=ctx.settings.suppress_on_lapse
        )
    queued = after_changes(ctx, (o.subject_id for o in lapsed))
    return [o.objection_id for o in lapsed], len(queued)


def refresh_once(ctx: Context) -> dict[str, int] | None:
    """Store today's standings of every active scheme unless they are stored already (for the
    active version, today); return the subjects that changed lists per scheme, or None when
    nothing had to be done."""
    today = ctx.today()
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        hold_lock(conn, REFRESH_LOCK)
        active = ctx.registry.active(conn)
        stored = {
            (str(row.scheme_id), str(row.version))
            for row in conn.execute(
                select(standing_runs.c.scheme_id, standing_runs.c.version)
                .where(standing_runs.c.as_of == today)
                .distinct()
            )
        }
        if not active or all((s.scheme.id, s.version) in stored for s in active):
            return None
        log.info("refreshing the standings of %s at ledger size %d", today, read_size(conn))
        changed = refresh_all(
            conn, ctx.registry, today, ctx.catalog, grace_days=ctx.settings.grace_days
        )
    ctx.precomputed.invalidate()
    return changed
