"""Background work of a running service: deliver corrections, lapse overdue objections.

The outbox is a table, so a restart loses nothing: the worker picks up undelivered messages
where the last process left them.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx

from xinyong.due_process.corrections import deliver_pending
from xinyong.due_process.objections import lapse_overdue
from xinyong.ledger.database import WRITE_LOCK
from xinyong.service.changes import after_changes
from xinyong.service.context import Context

__all__ = ["post_json", "start_worker", "sweep_once"]

log = logging.getLogger("xinyong.worker")


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


def start_worker(
    ctx: Context, stop: threading.Event, deliver_every: float = 5.0, sweep_every: float = 3600.0
) -> threading.Thread:
    """Run delivery and sweeps in a daemon thread until ``stop`` is set."""

    def loop() -> None:
        next_sweep = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    lapsed, _ = sweep_once(ctx)
                    if lapsed:
                        log.info("lapsed %d overdue objections", len(lapsed))
                    next_sweep = time.monotonic() + sweep_every
                delivered, failed = deliver_pending(ctx.engine, post_json)
                if delivered or failed:
                    log.info("corrections: %d delivered, %d to retry", delivered, failed)
            except Exception:  # keep the worker alive; the next round retries
                log.exception("background work failed")
            stop.wait(deliver_every)

    thread = threading.Thread(target=loop, name="xinyong-worker", daemon=True)
    thread.start()
    return thread
