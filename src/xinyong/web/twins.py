"""Every page has a JSON twin: one function builds a page's data, served as HTML at ``path`` and
as JSON at ``path.json`` (``/`` at ``/index.json``), so the two can never disagree.

The words a builder makes (a scheme in plain words, a chart's labels) are in the page's language
(:data:`PageLanguage`); the twin, which programs read, has them in English in every language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from xinyong.i18n import DEFAULT
from xinyong.web.access import Visitor
from xinyong.web.templates import json_path, render, request_language

__all__ = ["PageData", "PageLanguage", "page_language", "twin"]

PageData = dict[str, Any]
Builder = Callable[..., PageData]


def page_language(request: Request) -> str:
    """The language a page's builder writes its words in: the request's for the page, English
    for the page's twin."""
    return DEFAULT if request.url.path.endswith(".json") else request_language(request)


PageLanguage = Annotated[str, Depends(page_language)]


def twin(
    router: APIRouter, path: str, template: str, *, private: bool = False
) -> Callable[[Builder], Builder]:
    """Register a page builder (a FastAPI dependency: its parameters are query parameters,
    path parameters and other dependencies) as the page and its JSON twin."""

    def register(build: Builder) -> Builder:
        headers = {"Cache-Control": "no-store"} if private else {}

        async def as_json(data: PageData) -> Response:
            return Response(
                orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
                media_type="application/json",
                headers=headers,
            )

        async def as_html(request: Request, data: PageData, session: Visitor) -> HTMLResponse:
            return render(request, template, data, session, private=private)

        # The page's data comes from its builder, run as a dependency. (Set here rather than in
        # the signatures: with postponed annotations FastAPI would look ``build`` up by name.)
        for endpoint in (as_json, as_html):
            endpoint.__annotations__["data"] = Annotated[PageData, Depends(build)]

        # The twin first: ``/lists/{scheme}/{list}`` would also match ``.../blacklist.json``.
        router.add_api_route(json_path(path), as_json, methods=["GET"], include_in_schema=False)
        router.add_api_route(
            path, as_html, methods=["GET"], include_in_schema=False, response_class=HTMLResponse
        )
        return build

    return register
