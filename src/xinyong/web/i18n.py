"""The language of a portal request, and the attribute that tells the browser.

``?lang=zh`` or ``?lang=en`` (the switch in every page's header, kept in a cookie for the next
pages), else that cookie, else the browser's ``Accept-Language``, else English. The catalogs,
dates and numbers are :mod:`xinyong.i18n`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from babel import negotiate_locale

from xinyong.i18n import DEFAULT, LANGUAGES

__all__ = ["LANG_COOKIE", "chosen_language", "html_lang"]

LANG_COOKIE: Final = "xinyong_lang"
_HTML_LANG: Final = {"en": "en", "zh": "zh-Hans"}


def html_lang(language: str) -> str:
    """The ``lang`` attribute of a page in ``language``."""
    return _HTML_LANG[language]


def chosen_language(query: Mapping[str, str], cookies: Mapping[str, str], accept: str) -> str:
    """The language of a request: ``?lang=``, else the cookie, else ``Accept-Language``."""
    for given in (query.get("lang", ""), cookies.get(LANG_COOKIE, "")):
        if given in LANGUAGES:
            return given
    preferred = [tag for tag, _ in sorted(_accepted(accept), key=lambda item: -item[1])]
    found = negotiate_locale(preferred, ["en", "zh"], sep="-")
    return found if found in LANGUAGES else DEFAULT


def _accepted(header: str) -> list[tuple[str, float]]:
    """``Accept-Language`` as (tag, weight) pairs, in the order given; malformed parts skipped."""
    found = []
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and len(tag) <= 35 and weight > 0:  # q=0: "not acceptable"
            found.append((tag.split("-")[0].lower(), weight))
    return found
