"""The web portal: public lists, the subject's own file and the operator's console, served as
server-rendered pages (Jinja2, with htmx for small interactions) by the decision service's app.

Every page has a JSON twin (``/lists/s/l`` and ``/lists/s/l.json``); read pages work without
JavaScript. See ``docs/web.md``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from xinyong.web import console, lists, login, my_file, schemes, transparency
from xinyong.web.access import PageError, visitor
from xinyong.web.templates import render

__all__ = ["ROUTERS", "STATIC", "install"]

STATIC = Path(__file__).with_name("static")
ROUTERS = tuple(m.router for m in (lists, schemes, transparency, login, my_file, console))
"""The portal's pages and forms."""


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    path = request.url.path
    if path.endswith(".json"):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)
    if exc.status == 401 and request.method == "GET":
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    session = await run_in_threadpool(visitor, request)
    page = {"status": exc.status, "message": exc.message}
    return render(request, "error.html", page, session, status=exc.status)


def install(app: FastAPI) -> None:
    """Serve the portal's pages and static files from ``app``."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(PageError, _page_error)
