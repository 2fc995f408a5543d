"""Background work of a deployment: deliver signed webhook messages (corrections to relying
parties, disputes to sources), lapse overdue objections, refresh the day's standings.
It runs in ``xinyong worker`` processes (``xinyong serve`` starts one), never in
the web workers, so that ``serve --workers N`` does it once, not N times.

Any number of worker processes may run against one ledger. Each step is safe to run in several
at once: a webhook message is claimed before it is sent (:func:`deliver_pending`), the sweep and
the refresh take the ledger's write lock (appends are serialized), and the refresh is skipped
when the day's standings are already stored at the ledger's current size. The outbox is a
table, so a restart loses nothing: delivery picks up where the last process left it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from xinyong.application.context import Context
from xinyong.application.sweeps import refresh_once, sweep_once
from xinyong.due_process.outbox import SEND_SECONDS, deliver_pending

__all__ = ["Intervals", "post_json", "run_worker"]

log = logging.getLogger("xinyong.worker")


@dataclass(frozen=True, slots=True)
class Intervals:
    """How often each step runs, in seconds."""

    deliver: float = 5.0
    sweep: float = 3600.0
    refresh: float = 600.0
    """How often a worker looks whether the day's standings must be refreshed (a new day, or a
    scheme activated since)."""


def post_json(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST a JSON body with its (signature) headers; return the status code. The whole send,
    however slowly the webhook answers, is given up after :data:`SEND_SECONDS` (TimeoutError):
    a message's claim must outlast it. (httpx's timeouts bound each read, not the send: a
    webhook that drips its answer a byte at a time would hold a synchronous send for ever.)
    On a thread of its own, so that a caller on an event loop may call it too."""

    async def send() -> int:
        async with httpx.AsyncClient(timeout=SEND_SECONDS) as client:
            response = await client.post(url, content=body, headers=dict(headers))
            return response.status_code

    def run() -> int:
        return asyncio.run(asyncio.wait_for(send(), SEND_SECONDS))

    with ThreadPoolExecutor(1, thread_name_prefix="xinyong-webhook") as pool:
        return pool.submit(run).result()


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
            delivered, failed = deliver_pending(
                ctx.engine, post_json, claim_seconds=ctx.settings.webhook_claim_seconds
            )
            if delivered or failed:
                log.info("corrections: %d delivered, %d to retry", delivered, failed)
        except Exception:  # keep the worker alive; the next round retries
            log.exception("background work failed")
        stop.wait(every.deliver)
