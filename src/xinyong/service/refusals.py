"""How the API answers a refused request: a status by the kind of refusal
(:mod:`xinyong.domain.refusals`), the reason as FastAPI words any error (``{"detail": ...}``).

The routes call the use cases and let a refusal pass; this one handler answers it, so the status
never depends on which use case refused, or on the wording of its message.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from xinyong.domain.refusals import AlreadyDecided, NotAllowed, NotFound, Refused, Taken

__all__ = ["STATUS", "install", "status_of"]

STATUS: dict[type[Refused], int] = {NotFound: 404, AlreadyDecided: 409, Taken: 409, NotAllowed: 422}
"""The API's status for each kind of refusal."""


def status_of(refusal: Refused) -> int:
    """The status that answers ``refusal`` (422 for a kind not in :data:`STATUS`)."""
    return next((s for kind, s in STATUS.items() if isinstance(refusal, kind)), 422)


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    """Answer refusals raised by ``app``'s API routes (the portal's forms catch their own)."""
    app.add_exception_handler(Refused, _answer)
