"""The portal's Jinja2 environment and how a page is rendered into a response.

Templates render only what the page's data holds (the same data its JSON twin serves), plus
who is signed in and the form tokens. Every HTML response carries a strict Content Security
Policy: scripts and styles only from the portal's own ``/static``, no inline script, no framing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from xinyong.web.charts import bar_chart, line_chart
from xinyong.web.sessions import WebSession

__all__ = ["NOTICES", "SECURITY_HEADERS", "environment", "json_path", "render"]

_HERE = Path(__file__).parent

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

NOTICES = {
    "objection": "Your objection is filed; it is listed under “Your objections” with its deadline.",
    "repair": "Your repair request is filed; it is listed under “Your repair requests”.",
    "information": "Your information is added and sent to the source; the deadline is extended.",
    "review": "Your request is filed: a person will review the decision by the deadline shown "
    "under “Your requests for review”.",
    "appeal": "Your appeal is filed: another operator decides it by the deadline shown under "
    "“Your appeals”.",
    "decided": "The decision is recorded and the subject has been sent a notice.",
}
"""Messages shown after a form succeeds (``?done=KEY``; never text taken from the request)."""

environment = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    lstrip_blocks=True,
)
environment.globals.update(line_chart=line_chart, bar_chart=bar_chart)


def json_path(path: str) -> str:
    """The JSON twin of a page path (``/`` has ``/index.json``)."""
    return "/index.json" if path == "/" else f"{path}.json"


def render(
    request: Request,
    template: str,
    page: dict[str, Any],
    session: WebSession | None,
    *,
    status: int = 200,
    private: bool = False,
    notice: str = "",
    error: str = "",
    shown: str | None = None,
) -> HTMLResponse:
    """Render ``template`` with the page's data. ``private`` pages (a subject's file, the
    console) are never stored by caches.

    ``shown`` is the path of the page rendered when it is not the request's (a refused form
    shows its page again): the JSON link then names that page's twin. A page rendered for a
    form without ``shown`` (an error page) has no twin to link."""
    path = request.url.path
    if shown is not None:
        twin = json_path(shown)
    elif request.method in ("GET", "HEAD"):
        twin = json_path(path) + (f"?{request.url.query}" if request.url.query else "")
    else:
        twin = ""
    html = environment.get_template(template).render(
        page=page,
        session=session,
        csrf=session.csrf if session else "",
        path=path,
        twin=twin,
        notice=notice or NOTICES.get(request.query_params.get("done", ""), ""),
        error=error,
    )
    headers = dict(SECURITY_HEADERS)
    if private:
        headers["Cache-Control"] = "no-store"
    return HTMLResponse(html, status_code=status, headers=headers)
