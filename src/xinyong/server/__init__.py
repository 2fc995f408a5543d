"""The deployment's app, composed in one place: the API (:mod:`xinyong.service`), the portal's
pages (:mod:`xinyong.web`) and the API's documentation on one FastAPI app over one context
(:mod:`xinyong.server.app`), and the factory uvicorn's worker processes call
(:mod:`xinyong.server.factory`). Light to import, as the factory's package must be: it holds only
the names of the environment variables through which ``xinyong serve`` configures its workers.
"""

from __future__ import annotations

__all__ = ["SETTINGS_ENV", "WORKERS_ENV"]

SETTINGS_ENV = "XINYONG_SERVICE_SETTINGS"
"""A settings TOML file for the app (how ``serve --workers`` passes it on to every worker)."""
WORKERS_ENV = "XINYONG_WEB_WORKERS"
"""How many web worker processes serve the deployment (they divide the rate limits between them
unless a shared store holds them)."""
