"""Record submissions (``POST /v1/records``), in a process of their own.

A batch of records is validated, appended, and then every touched subject's standing is worked
out again to open or close list entries and queue corrections: tens of milliseconds of CPU per
batch of a hundred. In the process that answers checks, that work holds the interpreter lock
while checks wait, and a check that should take a fraction of a millisecond takes as long as the
batch. So by default (setting ``ingest_process``) submissions run in one separate worker process
with its own connection to the ledger: the service's event loop reads the request body, hands it
over unparsed, and awaits the report; nothing about the answer changes. Batches are appended in the
order they arrive, one at a time, as the ledger's single writer requires anyway.

The worker is started with the app (``spawn``: a fresh interpreter, no copied threads or
connections) and stopped with it; if it dies, another is started and the batch in hand is
submitted again (:meth:`SubmissionWorker.submit` says why that is safe).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.application.lifeline import run_helper
from xinyong.domain.json_text import JsonRefused, parse_json
from xinyong.ingest.records import ingest_rows

__all__ = ["RecordsIn", "SubmissionWorker", "submit_body", "submit_records"]


class RecordsIn(BaseModel):
    """Records in the ledger's record fields; ``source`` may be omitted (it is the caller's)."""

    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


def submit_body(ctx: Context, body: bytes, source: str, today: date) -> tuple[int, dict[str, Any]]:
    """A request body as :class:`RecordsIn` describes it: (200, the report) once appended, or
    (422, the problems in FastAPI's error shape) and nothing appended."""
    try:
        parsed = RecordsIn.model_validate(parse_json(body))
    except JsonRefused as exc:  # as FastAPI words a body it cannot read
        problem = {
            "type": "json_invalid",
            "loc": ["body", exc.pos],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        return 422, {"detail": [problem]}
    except ValidationError as exc:
        problems = [
            {**error, "loc": ["body", *error["loc"]]}
            for error in exc.errors(include_url=False, include_context=False)
        ]
        return 422, {"detail": jsonable_encoder(problems)}
    return 200, submit_records(ctx, parsed.records, source, today)


def submit_records(
    ctx: Context, rows: Sequence[Mapping[str, Any]], source: str, today: date
) -> dict[str, Any]:
    """Append records under ``source``; refresh the touched subjects; the API's report."""
    report = ingest_rows(
        ctx.engine, rows, ctx.catalog, source=source, today=today, note=f"api source {source}"
    )
    corrections = 0
    if report.named:  # duplicates too: a batch submitted again after a worker died between its
        # commit and its refresh is all duplicates, and its refresh is the one that never ran
        corrections = len(after_changes(ctx, report.named, today))
    return {
        "received": report.rows,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": [
            {"index": r.line, "field": r.field, "reason": r.reason} for r in report.rejects
        ],
        "ledger": report.head.token if report.head else None,
        "corrections_queued": corrections,
    }


def _read_only(values: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(values)


def _mapping_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _read_only, (dict(proxy),)


# The catalog and the settings hold read-only mappings; send them to the worker as such.
ForkingPickler.register(MappingProxyType, _mapping_proxy)

_WORKER: dict[str, Context] = {}
"""In the worker process: its own context (its engine, caches and catalog)."""


WORKER_NICENESS = 10
"""The worker's scheduling priority below the service's where the idle class is not available."""


def _yield_to_checks() -> None:
    """Put this process below the service in the scheduler: a check (a fraction of a
    millisecond, someone waiting at a ticket counter) always goes before a batch of records.

    On Linux the process joins the idle scheduling class: it runs whenever a core has nothing
    else to do, and gives way at once when the service wakes up. A positive niceness only
    lowers its share; measured here, a check still waited up to tens of milliseconds behind
    a batch that way.
    """
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError:
            pass
    os.nice(WORKER_NICENESS)


def _start_worker(setup: bytes) -> None:
    """Open the worker's ledger (``setup``: the pickled URL, catalog and settings, unpickled here
    so that the process follows its parent before it imports what they need)."""
    from xinyong.ledger.database import open_database

    url, catalog, settings = pickle.loads(setup)
    _yield_to_checks()
    ctx = _WORKER["context"] = Context.create(open_database(url, migrate=False), catalog, settings)
    with ctx.engine.connect() as conn:  # load the schemes now, not with the first batch
        ctx.registry.active(conn)


def _submit_in_worker(body: bytes, source: str, today: date) -> tuple[int, dict[str, Any]]:
    return submit_body(_WORKER["context"], body, source, today)


class SubmissionWorker:
    """The separate process that appends submitted records (see the module's docstring)."""

    def __init__(self, ctx: Context) -> None:
        self._url = ctx.engine.url.render_as_string(hide_password=False)
        self._catalog = ctx.catalog
        # The clock is the service's: each submission carries its date.
        self._settings = ctx.settings.model_copy(update={"today": date.today})
        self._pool: ProcessPoolExecutor | None = None

    async def started(self) -> int:
        """Start the worker process and wait until it is ready to append; return its pid.

        A pool starts its process only at the first submission: on the event loop, while
        checks are being answered, and that batch would wait for a new interpreter to import
        everything and open the ledger. The service starts it before it serves instead.
        """
        self.start()
        assert self._pool is not None
        return await asyncio.get_running_loop().run_in_executor(self._pool, os.getpid)

    def start(self) -> None:
        """Create the worker's pool (idempotent); its process starts at the first call."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=run_helper,
                initargs=(
                    os.getpid(),
                    f"{__name__}:_start_worker",
                    ForkingPickler.dumps((self._url, self._catalog, self._settings)).tobytes(),
                ),
            )

    async def submit(self, body: bytes, source: str, today: date) -> tuple[int, dict[str, Any]]:
        """Submit a request body in the worker; wait for its status and report.

        If the worker has died (killed, out of memory), another is started and the batch is
        submitted once more. That is safe: a batch is appended in one transaction, so it was
        appended whole or not at all, and a record appended again with the same content counts
        as a duplicate, not as a second record.
        """
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            self.start()
            assert self._pool is not None
            try:
                return await loop.run_in_executor(
                    self._pool, _submit_in_worker, body, source, today
                )
            except BrokenProcessPool:
                self.stop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def pid(self) -> int | None:
        """The worker process's id, once it runs (for operators and tests)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return next(iter(processes), None)

    def stop(self) -> None:
        """Stop the worker once the batch in hand is done."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
