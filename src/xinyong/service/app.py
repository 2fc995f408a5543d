"""The decision service: one FastAPI app serving relying parties, subjects, sources,
operators and the public, under ``/v1``, with OpenAPI at ``/docs``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from xinyong import __version__
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.service.context import Context
from xinyong.service.ratelimit import TokenBuckets
from xinyong.service.routes import checks, me, operator, public, records
from xinyong.service.settings import ServiceSettings

__all__ = ["create_app"]


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
    app.state.context = Context(
        engine=engine,
        catalog=catalog or load_catalog(),
        registry=SchemeRegistry(),
        settings=settings,
        buckets=TokenBuckets(settings.rate_per_second, settings.burst),
    )
    for router in (public.router, checks.router, me.router, operator.router, records.router):
        app.include_router(router)
    return app
