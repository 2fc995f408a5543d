"""The API's interactive documentation (``/docs``, Swagger UI; ``/redoc``, ReDoc), served from
the package: nothing is loaded from a CDN, so the pages work offline and the operator console's
origin runs no third party's script.

The scripts and styles come from the ``fastapi-offline`` package (Swagger UI and ReDoc as
released upstream, MIT and Apache-2.0; ReDoc's reference to its vendor's logo on a CDN is
replaced by an empty image, and Swagger UI's online validator is turned off); the pages start
them with a script of ours in
``/static``, so no inline script is needed. Their Content Security Policy is the portal's, with
the two relaxations these viewers need and no more: inline styles (both set style attributes,
ReDoc injects a stylesheet) and images from ``data:`` URLs (Swagger UI's icons), and ReDoc's
search index runs in a ``blob:`` worker.
"""

from __future__ import annotations

import functools
import importlib.resources

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DOCS_CSP", "install_api_docs"]

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; font-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
ASSETS = "/static/api"

_SWAGGER = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" href="{ASSETS}/favicon.png">
</head><body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body></html>
"""
_REDOC = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · API reference</title>
<link rel="icon" href="{ASSETS}/favicon.png">
</head><body>
<div id="redoc" data-openapi="/openapi.json"></div>
<script src="{ASSETS}/redoc.standalone.js"></script>
<script src="/static/api-docs.js"></script>
</body></html>
"""


def _page(template: str, title: str) -> HTMLResponse:
    html = template.replace("{title}", title.replace("&", "&amp;").replace("<", "&lt;"))
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": DOCS_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one address ReDoc's bundle loads by itself (the vendor's logo under the menu)."""


@functools.cache
def _redoc_bundle() -> bytes:
    """ReDoc's bundle with its logo's address made an empty ``data:`` URL: the image fails to
    load and ReDoc hides it, and nothing is asked of another origin."""
    bundle = importlib.resources.files("fastapi_offline") / "static" / "redoc.standalone.js"
    return bundle.read_bytes().replace(REDOC_LOGO, b"data:,")


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` (create ``app`` with ``docs_url=None, redoc_url=None``)."""

    @app.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        return Response(
            _redoc_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="api-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _page(_SWAGGER, app.title)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _page(_REDOC, app.title)
