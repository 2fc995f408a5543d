"""FastAPI dependencies of the API's routers: the app's context."""

from __future__ import annotations

from fastapi import Request

from xinyong.application.context import Context

__all__ = ["context"]


async def context(request: Request) -> Context:
    """FastAPI dependency: the app's context."""
    ctx: Context = request.app.state.context
    return ctx
