"""An ASGI application's lifespan run as a task on the current event loop.

For tests that serve several applications one after another from one loop (a test client's),
each started and ended as a server would: startup before its first request, shutdown before
the next application takes over.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Lifespan"]


class Lifespan:
    """A started lifespan; :meth:`stop` ends it and waits for the application to finish."""

    def __init__(self, app: Any) -> None:
        self._to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.ensure_future(app(scope, self._to_app.get, self._from_app.put))

    @classmethod
    async def start(cls, app: Any) -> Lifespan:
        """Start ``app``'s lifespan; raises if its startup fails."""
        running = cls(app)
        await running._step("startup")
        return running

    async def stop(self) -> None:
        """Shut the application down; raises if its shutdown fails."""
        await self._step("shutdown")
        await self._task

    async def _step(self, phase: str) -> None:
        await self._to_app.put({"type": f"lifespan.{phase}"})
        reply = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({reply, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():  # the application ended without answering
            reply.cancel()
            self._task.result()
            raise RuntimeError(f"the application ended its lifespan before {phase} completed")
        message = reply.result()
        assert message["type"] == f"lifespan.{phase}.complete", message
