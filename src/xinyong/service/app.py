"""The decision service: one FastAPI app serving relying parties, subjects, sources,
operators and the public, under ``/v1``, with OpenAPI at ``/docs``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from xinyong import __version__
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.ledger.database import open_database
from xinyong.service.context import Context
from xinyong.service.routes import checks, me, operator, public, records
from xinyong.service.settings import ServiceSettings

__all__ = ["SERVICE_POOL_SIZE", "create_app", "open_service_database"]

SERVICE_POOL_SIZE = 48
"""Database connections a service keeps open: its request threads (AnyIO's default of 40), the
inquiry log writer and the background worker, with room to spare."""


def open_service_database(url: str | None) -> Engine:
    """The ledger, with a connection pool sized for the service's threads."""
    return open_database(url, pool_size=SERVICE_POOL_SIZE)


def create_app(
    engine: Engine,
    catalog: Catalog | None = None,
    settings: ServiceSettings | None = None,
) -> FastAPI:
    """Build the app over an open ledger database."""
    settings = settings or ServiceSettings()
    app = FastAPI(
        title="xinyong decision service",
        version=__version__,
        description=(
            "Checks for relying parties (yes/no per measure, logged, replayable), the "
            "subject's own file with objections and credit repair, record submission for "
            "sources, review for operators, and the public lists and transparency report."
        ),
    )
    app.state.engine = engine
    app.state.context = Context.create(engine, catalog or load_catalog(), settings)
    for router in (public.router, checks.router, me.router, operator.router, records.router):
        app.include_router(router)
    return app
