"""What every request must be before any route sees it: a readable path and query, and a body
that arrives in time.

Two kinds of hostile input used to reach the database and come back as a 500: text no database
can store (a NUL in a path segment or a query parameter, invalid UTF-8) and bodies that never
end. :class:`RequestGuard` refuses the first with a 400 or 422 naming the part at fault, and
gives a body that stops arriving :attr:`~xinyong.application.settings.ServiceSettings.body_seconds`
a 408. (The size of a body is capped by FastAPI's own ``max_body_size``: 413, before parsing.)
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xinyong.domain.text import text_problem

__all__ = ["BodyTimeout", "RequestGuard", "request_problem"]


class BodyTimeout(BaseException):
    """The client stopped sending the body it announced.

    A BaseException, like a cancellation: FastAPI turns any Exception met while it reads a body
    into a 400, and this must reach :class:`RequestGuard` to become a 408.
    """


def request_problem(scope: Scope) -> tuple[int, Any] | None:
    """(status, detail) for a path or query no route can be asked, else None."""
    path = scope.get("path", "")
    problem = text_problem(path)
    if problem is not None:
        return 400, f"the path holds a {problem}"
    try:
        query = scope.get("query_string", b"").decode("ascii")
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return 400, "the query string is not UTF-8 text"
    errors = []
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            errors.append(
                {
                    "type": "value_error",
                    "loc": ["query", name],
                    "msg": f"Value error, {problem}",
                    "input": value,
                }
            )
    return (422, errors) if errors else None


class RequestGuard:
    """ASGI middleware applying :func:`request_problem` and the body timeout."""

    def __init__(self, app: ASGIApp, body_seconds: float) -> None:
        self.app = app
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = request_problem(scope)
        if problem is not None:
            await JSONResponse({"detail": problem[1]}, problem[0])(scope, receive, send)
            return
        body_done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # later calls wait for a disconnect, for as long as they like
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_seconds)
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except BodyTimeout:
            if started:
                raise
            answer = JSONResponse(
                {"detail": f"the request body did not arrive within {self.body_seconds:g} s"}, 408
            )
            await answer(scope, receive, send)
