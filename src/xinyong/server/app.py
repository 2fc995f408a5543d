"""The app ``xinyong serve`` runs: the API with the portal and the API's documentation.

The two transports know nothing of each other: :mod:`xinyong.service` builds the app and its
context, and is handed what else to install; the portal's pages read the same context from the
app's state and run the same use cases (:mod:`xinyong.application`).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from xinyong.application.settings import ServiceSettings, load_settings
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.ledger.database import open_database
from xinyong.server import SETTINGS_ENV, WORKERS_ENV
from xinyong.service import app as service
from xinyong.web import install as install_portal
from xinyong.web.api_docs import install_api_docs

__all__ = ["SERVICE_POOL_SIZE", "app_from_environment", "create_app", "open_service_database"]

SERVICE_POOL_SIZE = 48
"""Database connections a service keeps open: its request threads (``threads``, at most AnyIO's
default of 40 in tests), the inquiry log writer and the background worker, with room to spare."""


def open_service_database(url: str | None) -> Engine:
    """The ledger, with a connection pool sized for the service's threads."""
    # never a new ledger: a mistyped $XINYONG_DATABASE_URL must not be served empty
    return open_database(url, pool_size=SERVICE_POOL_SIZE, create=False)


def app_from_environment() -> FastAPI:
    """The app as ``xinyong serve`` runs it, configured from the environment:
    ``$XINYONG_DATABASE_URL``, ``$XINYONG_CATALOG``, ``$XINYONG_SERVICE_SETTINGS`` (the settings
    file) and the settings' own ``$XINYONG_<NAME>`` variables (uvicorn calls it through
    :func:`xinyong.server.factory.app_from_environment`)."""
    path = os.environ.get(SETTINGS_ENV)
    settings = load_settings(Path(path) if path else None)
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    return create_app(open_service_database(None), load_catalog(), settings, workers=workers)


def create_app(
    engine: Engine,
    catalog: Catalog | None = None,
    settings: ServiceSettings | None = None,
    *,
    workers: int = 1,
) -> FastAPI:
    """The API, the portal and the API's documentation over an open ledger database, for one of
    ``workers`` web worker processes."""
    return service.create_app(
        engine,
        catalog,
        settings,
        workers=workers,
        # The documentation before the portal: the portal's /static mount would take /static/api.
        installs=(install_api_docs, install_portal),
    )
