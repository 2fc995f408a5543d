"""The app factory uvicorn's worker processes call (``xinyong serve``): light to import.

A worker process of ``serve --workers N`` must start following its supervisor before anything
else (:mod:`xinyong.application.lifeline`): importing the service takes seconds, and a supervisor
killed meanwhile would leave a worker that goes on to serve the port alone. So uvicorn is given
this module, which imports nothing heavy, follows the supervisor, and only then builds the app.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from xinyong.application.lifeline import PARENT_ENV, follow_parent

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app_from_environment"]


def app_from_environment() -> FastAPI:
    """The deployment's app, configured from the environment (uvicorn's app factory)."""
    supervisor = os.environ.get(PARENT_ENV)
    if supervisor:  # a worker process of ``serve --workers N``: end with the supervisor
        follow_parent(int(supervisor))
    from xinyong.server import app

    return app.app_from_environment()
