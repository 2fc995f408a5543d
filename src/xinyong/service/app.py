"""The decision service: one FastAPI app serving relying parties, subjects, sources,
operators and the public, under ``/v1``, with OpenAPI at ``/docs``; and the web portal's pages
(:mod:`xinyong.web`) for people."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from xinyong import __version__
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.ledger.database import open_database
from xinyong.service.context import Context
from xinyong.service.factory import SETTINGS_ENV, WORKERS_ENV
from xinyong.service.inquiry_writer import InquiryWriter
from xinyong.service.ratelimit import SharedBuckets
from xinyong.service.request_guard import RequestGuard
from xinyong.service.routes import checks, me, operator, public, records
from xinyong.service.settings import ServiceSettings, load_settings
from xinyong.service.submissions import SubmissionWorker
from xinyong.web import install as install_portal
from xinyong.web.api_docs import install_api_docs

__all__ = [
    "SERVICE_POOL_SIZE",
    "app_from_environment",
    "create_app",
    "open_service_database",
]

SERVICE_POOL_SIZE = 48
"""Database connections a service keeps open: its request threads (``threads``, at most AnyIO's
default of 40 in tests), the inquiry log writer and the background worker, with room to spare."""


def open_service_database(url: str | None) -> Engine:
    """The ledger, with a connection pool sized for the service's threads."""
    return open_database(url, pool_size=SERVICE_POOL_SIZE)


def app_from_environment() -> FastAPI:
    """The app as ``xinyong serve`` runs it, configured from the environment:
    ``$XINYONG_DATABASE_URL``, ``$XINYONG_CATALOG`` and ``$XINYONG_SERVICE_SETTINGS`` (uvicorn
    calls it through :func:`xinyong.service.factory.app_from_environment`)."""
    path = os.environ.get(SETTINGS_ENV)
    settings = load_settings(Path(path)) if path else ServiceSettings()
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    return create_app(open_service_database(None), load_catalog(), settings, workers=workers)


def create_app(
    engine: Engine,
    catalog: Catalog | None = None,
    settings: ServiceSettings | None = None,
    *,
    workers: int = 1,
) -> FastAPI:
    """Build the app over an open ledger database, for one of ``workers`` web worker processes
    (background work is not its business: see :mod:`xinyong.service.worker`)."""
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
        try:
            if stored_reads is not None:
                await stored_reads.open()
            # The helper processes start side by side (each imports the package anew).
            helpers: list[Awaitable[int | None]] = []
            if app.state.submissions is not None:
                helpers.append(app.state.submissions.started())
            if isinstance(inquiries, InquiryWriter):
                helpers.append(inquiries.started())
            await asyncio.gather(*helpers)
            yield
        finally:
            if app.state.submissions is not None:
                app.state.submissions.stop()
            if isinstance(inquiries, InquiryWriter):
                await inquiries.stop()
            inquiries.close()
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
    for router in (public.router, checks.router, me.router, operator.router, records.router):
        app.include_router(router)
    install_api_docs(app)  # before the portal: its /static mount would take /static/api
    install_portal(app)
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
