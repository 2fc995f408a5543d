"""Background work of a deployment: deliver corrections, lapse overdue objections, refresh the
day's standings. It runs in ``xinyong worker`` processes (``xinyong serve`` starts one), never in
the web workers, so that ``serve --workers N`` does it once, not N times.

Any number of worker processes may run against one ledger. Each step is safe to run in several
at once: a webhook message is claimed before it is sent (:func:`deliver_pending`), the sweep and
the refresh take the ledger's write lock (appends are serialized), and the refresh is skipped
when the day's standings are already stored at the ledger's current size. The outbox is a
table, so a restart loses nothing: delivery picks up where the last process left it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.due_process.corrections import deliver_pending
from xinyong.due_process.objections import lapse_overdue
from xinyong.due_process.refresh import refresh_all
from xinyong.ledger.append import read_size
from xinyong.ledger.database import WRITE_LOCK, hold_lock
from xinyong.ledger.schema import standing_runs

__all__ = ["Intervals", "post_json", "refresh_once", "run_worker", "sweep_once"]

log = logging.getLogger("xinyong.worker")

REFRESH_LOCK = "standings-refresh"
"""Held while a worker decides whether to refresh and refreshes (one at a time)."""


@dataclass(frozen=True, slots=True)
class Intervals:
    """How often each step runs, in seconds."""

    deliver: float = 5.0
    sweep: float = 3600.0
    refresh: float = 600.0
    """How often a worker looks whether the day's standings must be refreshed (a new day, or a
    scheme activated since)."""


def post_json(url: str, body: bytes) -> int:
    """POST a JSON body; return the status code."""
    response = httpx.post(
        url, content=body, timeout=10, headers={"content-type": "application/json"}
    )
    return response.status_code


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


def run_worker(ctx: Context, stop: threading.Event, every: Intervals = Intervals()) -> None:
    """Run the background steps until ``stop`` is set; a step that fails is logged and tried
    again at its next turn."""
    due = {"sweep": 0.0, "refresh": 0.0}
    while not stop.is_set():
        now = time.monotonic()
        try:
            if ctx.settings.daily_refresh and now >= due["refresh"]:
                due["refresh"] = now + every.refresh
                changed = refresh_once(ctx)
                if changed is not None:
                    log.info("standings refreshed: %s subjects changed lists", changed)
            if now >= due["sweep"]:
                due["sweep"] = now + every.sweep
                lapsed, _ = sweep_once(ctx)
                if lapsed:
                    log.info("lapsed %d overdue objections", len(lapsed))
            delivered, failed = deliver_pending(ctx.engine, post_json)
            if delivered or failed:
                log.info("corrections: %d delivered, %d to retry", delivered, failed)
        except Exception:  # keep the worker alive; the next round retries
            log.exception("background work failed")
        stop.wait(every.deliver)
