"""FastAPI dependencies of the portal's pages: the app's context."""

from __future__ import annotations

from fastapi import Request

from xinyong.application.context import Context

__all__ = ["context"]


async def context(request: Request) -> Context:
    """FastAPI dependency: the app's context (the one the API's routes use too)."""
    ctx: Context = request.app.state.context
    return ctx
