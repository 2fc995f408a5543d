"""The portal's Jinja2 environment and how a page is rendered into a response.

Templates render only what the page's data holds (the same data its JSON twin serves), plus
who is signed in and the form tokens. Every HTML response carries a strict Content Security
Policy: scripts and styles only from the portal's own ``/static``, no inline script, no framing.

A page is in its request's language (:func:`request_language`). Text made where the language is
not known (a page's error, a refused form's reason) is a :class:`Message`, shown translated by
:func:`in_language`.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from xinyong.domain.refusals import Word
from xinyong.i18n import (
    DEFAULT,
    LANGUAGES,
    N_,
    Message,
    data_text,
    gettext_for,
    local_date,
    local_number,
    translations,
)
from xinyong.web.charts import bar_chart, line_chart
from xinyong.web.i18n import LANG_COOKIE, chosen_language, html_lang
from xinyong.web.sessions import WebSession, set_cookie

__all__ = [
    "NOTICES",
    "SECURITY_HEADERS",
    "environment",
    "in_language",
    "json_path",
    "render",
    "request_language",
]

_HERE = Path(__file__).parent
LANG_COOKIE_SECONDS = 365 * 24 * 3600

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
    "objection": N_(
        "Your objection is filed; it is listed under “Your objections” with its deadline."
    ),
    "repair": N_("Your repair request is filed; it is listed under “Your repair requests”."),
    "information": N_(
        "Your information is added and sent to the source; the deadline is extended."
    ),
    "review": N_(
        "Your request is filed: a person will review the decision by the deadline shown "
        "under “Your requests for review”."
    ),
    "appeal": N_(
        "Your appeal is filed: another operator decides it by the deadline shown under "
        "“Your appeals”."
    ),
    "decided": N_("The decision is recorded and the subject has been sent a notice."),
}
"""Messages shown after a form succeeds (``?done=KEY``; never text taken from the request)."""


def in_language(text: str, language: str) -> str:
    """``text`` as a page in ``language`` shows it: a :class:`Message` translated, then filled
    with its values as the language writes them; any other text (data) as it is."""
    if not isinstance(text, Message):
        return text
    if language == DEFAULT:
        return str(text)  # the English, filled as the API and the JSON twins give it
    translated = gettext_for(language)(text.template)
    if not text.params:
        return translated
    return translated % {name: _value(v, language) for name, v in text.params.items()}


def _value(value: object, language: str) -> object:
    """A message's value in ``language``: a date or a number as the language writes it, a
    :class:`~xinyong.domain.refusals.Word` of the vocabulary translated, data as it is."""
    if isinstance(value, Word):
        return gettext_for(language)(value)
    if isinstance(value, date):
        return local_date(value, language)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return local_number(value, language)
    return value


@functools.cache
def environment(language: str = DEFAULT) -> Environment:
    """The templates in ``language`` (one environment per language: a page is rendered with the
    catalog of its request, and environments are shared by the request threads)."""
    made = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    made.policies["ext.i18n.trimmed"] = True  # one line per message, however the HTML wraps
    made.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    made.globals.update(
        line_chart=functools.partial(line_chart, language=language),
        bar_chart=functools.partial(bar_chart, language=language),
        language=language,
        html_lang=html_lang(language),
        languages=LANGUAGES,
    )
    made.filters["local_date"] = functools.partial(local_date, language=language)
    made.filters["local_number"] = functools.partial(local_number, language=language)
    made.filters["in_language"] = functools.partial(in_language, language=language)
    # data the catalogs translate (a record code's description, legal basis, publicity law)
    made.filters["tr"] = functools.partial(data_text, language=language)
    return made


def request_language(request: Request) -> str:
    """The language of ``request``: ``?lang=``, else the cookie, else ``Accept-Language``."""
    return chosen_language(
        request.query_params, request.cookies, request.headers.get("accept-language", "")
    )


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
    console) are never stored by caches. An ``error`` that is a :class:`Message` is shown in
    the page's language.

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
    language = request_language(request)
    done = NOTICES.get(request.query_params.get("done", ""), "")
    html = (
        environment(language)
        .get_template(template)
        .render(
            page=page,
            session=session,
            csrf=session.csrf if session else "",
            path=path,
            twin=twin,
            notice=notice or (translations(language).gettext(done) if done else ""),
            error=in_language(error, language),
            switch={code: _switch(request, code, shown) for code in LANGUAGES if code != language},
        )
    )
    headers = dict(SECURITY_HEADERS)
    headers["Vary"] = "Accept-Language, Cookie"
    headers["Content-Language"] = html_lang(language)
    if private:
        headers["Cache-Control"] = "no-store"
    response = HTMLResponse(html, status_code=status, headers=headers)
    if request.query_params.get("lang") in LANGUAGES:  # the switch: kept for the next pages
        set_cookie(request, response, LANG_COOKIE, language, LANG_COOKIE_SECONDS)
    return response


def _switch(request: Request, code: str, shown: str | None) -> str:
    """This page's address in another language (its other parameters kept); a page rendered
    for a form switches on the page the form belongs to (the form's address takes no GET)."""
    if request.method in ("GET", "HEAD"):
        path = request.url.path
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "done")]
    else:
        path, query = shown or "/", []
    return f"{quote(path)}?{urlencode([*query, ('lang', code)])}"
