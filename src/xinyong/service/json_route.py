"""Routes whose JSON bodies are read with :func:`~xinyong.domain.json_text.parse_json`.

FastAPI reads a JSON body with the standard library, which keeps the last of two equal keys and
accepts ``NaN``, ``1e400`` and ``\\u0000``. Every API router is created with
``route_class=StrictJsonRoute`` (FastAPI's documented way to replace a route's request class), so
an API body means the same thing as the same record in a JSON Lines file; a refused body is a
422 in FastAPI's usual ``json_invalid`` shape, with the reason and position.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from xinyong.domain.json_text import parse_json

__all__ = ["StrictJsonRequest", "StrictJsonRoute"]


class StrictJsonRequest(Request):
    """A request whose ``json()`` is :func:`parse_json` of its body."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An API route that reads its JSON body strictly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
