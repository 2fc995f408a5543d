"""The decision service: one FastAPI app serving relying parties, subjects, sources,
operators and the public, under ``/v1``, with its OpenAPI document at ``/openapi.json``. The
deployment's app is this one with the portal's pages and the API's documentation installed
(:mod:`xinyong.server.app`)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from xinyong import __version__
from xinyong.application.context import Context
from xinyong.application.proving import Warming
from xinyong.application.ratelimit import SharedBuckets
from xinyong.application.settings import ServiceSettings
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.service import refusals
from xinyong.service.request_guard import RequestGuard
from xinyong.service.routes import checks, disputes, me, operator, public, records, verifiable
from xinyong.service.submissions import SubmissionWorker

__all__ = ["create_app"]


def _freeze_what_lasts() -> None:
    """Keep what the process holds for its whole life (modules, the app, its routes and
    models: about 170,000 objects) out of the garbage collector's full collections.

    A full collection walks every tracked object, and the collector runs one whenever enough
    have survived the younger generations, on the event loop, whatever is waiting: measured
    on the check benchmark, a pause of 110 ms with checks queued behind it (docs/benchmarks.md).
    Frozen objects are never collected: the garbage of starting up is collected first.
    """
    gc.collect()
    gc.freeze()


def create_app(
    engine: Engine,
    catalog: Catalog | None = None,
    settings: ServiceSettings | None = None,
    *,
    workers: int = 1,
    installs: Iterable[Callable[[FastAPI], None]] = (),
) -> FastAPI:
    """Build the app over an open ledger database, for one of ``workers`` web worker processes
    (background work is not its business: see :mod:`xinyong.worker`). Each of
    ``installs`` adds to the app what else it serves, in order, before its routes are prepared
    (the portal and the API's documentation: :func:`xinyong.server.app.create_app`)."""
    settings = settings or ServiceSettings()
    threads = settings.threads

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Database work runs in AnyIO's worker threads. Its default of 40 suits blocking network
        # calls; here the work is short and mostly holds the GIL, and 40 threads contending for
        # it on a small machine spend more time switching than working.
        to_thread.current_default_thread_limiter().total_tokens = threads
        inquiries = app.state.context.inquiries
        await to_thread.run_sync(inquiries.recover)
        stored_reads = app.state.context.stored_reads
        warming: Warming | None = None
        try:
            if stored_reads is not None:
                await stored_reads.open()
            # The helper processes start side by side (each imports the package anew).
            helpers: list[Awaitable[int | None]] = []
            if app.state.submissions is not None:
                helpers.append(app.state.submissions.started())
            await asyncio.gather(*helpers)
            warming = Warming(app.state.context.engine)
            _freeze_what_lasts()
            yield
        finally:
            gc.unfreeze()  # what the app held may now be collected (an app served twice)
            if warming is not None:
                await to_thread.run_sync(warming.stop)
            if app.state.submissions is not None:
                app.state.submissions.stop()
            inquiries.close()
            await inquiries.aclose()
            if stored_reads is not None:
                await stored_reads.close()
            if isinstance(app.state.context.buckets, SharedBuckets):
                await app.state.context.buckets.close()

    app = ServiceApp(
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        docs_url=None,
        redoc_url=None,
        title="xinyong decision service",
        version=__version__,
        description=(
            "Checks for relying parties (yes/no per measure, logged, replayable), the "
            "subject's own file with objections and credit repair, record submission for "
            "sources, review for operators, and the public lists and transparency report."
        ),
    )
    app.state.engine = engine
    app.state.context = Context.create(engine, catalog or load_catalog(), settings, workers)
    app.state.submissions = SubmissionWorker(app.state.context) if settings.ingest_process else None
    for router in (
        public.router,
        checks.router,
        me.router,
        operator.router,
        records.router,
        disputes.router,
        verifiable.router,
    ):
        app.include_router(router)
    refusals.install(app)
    for install in installs:
        install(app)
    app.add_middleware(RequestGuard, body_seconds=settings.body_seconds)
    _document(app, checks.documented)
    _prepare_routes(app)
    return app


def _prepare_routes(app: FastAPI) -> None:
    """Have FastAPI work out its included routes now: it does so lazily, on the event loop, while
    the first request waits (tens of milliseconds of signature inspection, which also holds up
    every check answered meanwhile)."""
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "root_path": ""}
    for route in app.router.routes:
        route.matches({**scope, "headers": [], "query_string": b""})


class ServiceApp(FastAPI):
    """The FastAPI app, with ``GET /v1/checks`` dispatched before anything else.

    Checks are the hot path (every ticket sold, every loan approved), and each layer of FastAPI's
    stack (telemetry, error middleware, body limits, exception handling, the exit stack, routing)
    costs time on every request; :func:`~xinyong.service.routes.checks.serve_check`
    does what those layers would do for it. Everything else takes the usual way.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        if http and scope["path"] == checks.CHECKS_PATH and scope["method"] == "GET":
            await checks.serve_check(self, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _document(app: FastAPI, *described: APIRouter) -> None:
    """Add to the OpenAPI document the routes served outside FastAPI's routing (their
    descriptions live on routers that are never mounted)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=[*app.routes, *(route for router in described for route in router.routes)],
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
