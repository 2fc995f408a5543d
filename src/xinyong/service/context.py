"""What every request handler needs: the database, catalog, schemes, settings and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import Request
from sqlalchemy import Engine

from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.service.ratelimit import TokenBuckets
from xinyong.service.settings import ServiceSettings

__all__ = ["Context", "context"]


@dataclass(frozen=True, slots=True)
class Context:
    """Shared, long-lived service state."""

    engine: Engine
    catalog: Catalog
    registry: SchemeRegistry
    settings: ServiceSettings
    buckets: TokenBuckets

    def today(self) -> date:
        """The service's clock."""
        return self.settings.today()


def context(request: Request) -> Context:
    """FastAPI dependency: the app's context."""
    ctx: Context = request.app.state.context
    return ctx
