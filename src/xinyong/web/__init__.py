"""The web portal: public lists, the subject's own file and the operator's console, served as
server-rendered pages (Jinja2, with htmx for small interactions) by the decision service's app.

Every page has a JSON twin (``/lists/s/l`` and ``/lists/s/l.json``); read pages work without
JavaScript. See ``docs/web.md``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from xinyong.i18n import LANGUAGES, N_, Message
from xinyong.web import console, lists, login, my_file, schemes, transparency
from xinyong.web.access import PageError, visitor
from xinyong.web.templates import render

__all__ = ["API", "ROUTERS", "STATIC", "install"]

STATIC = Path(__file__).with_name("static")
API = "/v1/"
"""Where the API's routes are: an unknown address under it answers as the API does (JSON)."""
ICON = "/static/favicon.svg"

site = APIRouter()


@site.get("/favicon.ico", include_in_schema=False)
def favicon() -> RedirectResponse:
    """The portal's icon, where browsers look for one by default (every page names it)."""
    return RedirectResponse(ICON, status_code=301)


ROUTERS = (*(m.router for m in (lists, schemes, transparency, login, my_file, console)), site)
"""The portal's pages and forms."""


def login_address(request: Request) -> str:
    """The sign-in page for a visitor who must sign in to see the page ``request`` asks for:
    back to that page afterwards, and in the language the request chose with ``?lang=`` (which
    no cookie keeps yet; a cookie's or the browser's language reaches the sign-in page by
    itself)."""
    path = request.url.path
    target = path + (f"?{request.url.query}" if request.url.query else "")
    address = f"/login?next={quote(target, safe='')}"
    language = request.query_params.get("lang", "")
    return address + (f"&{urlencode({'lang': language})}" if language in LANGUAGES else "")


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    path = request.url.path
    if path.endswith(".json"):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)
    if exc.status == 401 and request.method == "GET":
        return RedirectResponse(login_address(request), status_code=303)
    session = await run_in_threadpool(visitor, request)
    page = {"status": exc.status, "message": exc.message}
    return render(request, "error.html", page, session, status=exc.status)


async def _not_found(request: Request, exc: Exception) -> Response:
    """An address nothing answers: the portal's error page, in the request's language, unless
    it is the API's (under ``/v1/``) or a twin's (``.json``), which answer in JSON as before."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    api = path.startswith(API) or path == API.rstrip("/")
    if exc.status_code != 404 or api or path.endswith(".json"):
        return await http_exception_handler(request, exc)
    session = await run_in_threadpool(visitor, request)
    page = {"status": 404, "message": Message(N_("There is no page at this address."))}
    return render(request, "error.html", page, session, status=404)


def install(app: FastAPI) -> None:
    """Serve the portal's pages and static files from ``app``, and its error page for an
    unknown address outside the API."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(HTTPException, _not_found)
