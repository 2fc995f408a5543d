"""The portal in Simplified Chinese and English: message catalogs, and the language of a request.

Every text of the pages is written in English in the templates (``{% trans %}`` blocks and
``_()``, whitespace trimmed) and in Python (:func:`N_` marks text shown later, such as the
messages after a form); its Chinese is in the gettext catalogs under ``src/xinyong/locale/
zh_Hans/LC_MESSAGES/*.po`` (several files, merged: one per part of the portal), read with Babel
and compiled in memory when the portal starts, so there is no binary file to keep in step.
Chinese terms follow the official ones (失信被执行人名单, 信用修复, 异议, 红名单, 黑名单,
联合惩戒, 信用承诺). ``tests/web/test_i18n.py`` fails on any message without a translation.

The language of a request: ``?lang=zh`` or ``?lang=en`` (the switch in every page's header, kept
in a cookie for the next pages), else that cookie, else the browser's ``Accept-Language``, else
English.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Final

from babel import Locale, negotiate_locale
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "LANG_COOKIE",
    "N_",
    "chosen_language",
    "html_lang",
    "local_date",
    "local_number",
    "translations",
]

LOCALE_DIR: Final = Path(__file__).resolve().parents[1] / "locale"
LANGUAGES: Final = {"en": "English", "zh": "中文"}
"""The portal's languages, by the code ``?lang=`` takes, with their names in themselves."""
DEFAULT: Final = "en"
LANG_COOKIE: Final = "xinyong_lang"
_CATALOG_LOCALE: Final = {"zh": "zh_Hans"}
_HTML_LANG: Final = {"en": "en", "zh": "zh-Hans"}
_BABEL_LOCALE: Final = {"en": "en", "zh": "zh_Hans_CN"}


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; it is translated when shown."""
    return message


def html_lang(language: str) -> str:
    """The ``lang`` attribute of a page in ``language``."""
    return _HTML_LANG[language]


@functools.cache
def catalog(language: str) -> Catalog:
    """The merged message catalog of ``language`` (empty for English, the source language)."""
    merged = Catalog(locale=_CATALOG_LOCALE.get(language, "en"), domain="messages")
    folder = LOCALE_DIR / _CATALOG_LOCALE.get(language, "en") / "LC_MESSAGES"
    for path in sorted(folder.glob("*.po")) if language != DEFAULT else ():
        with path.open("rb") as file:
            part = read_po(file, locale=_CATALOG_LOCALE[language])
        for message in part:
            if message.id and message.id not in merged:
                merged[message.id] = message
    return merged


@functools.cache
def translations(language: str) -> NullTranslations:
    """The gettext translations of ``language``: the catalog compiled in memory."""
    if language == DEFAULT:
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalog(language), use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


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


def local_date(value: date | str | None, language: str) -> str:
    """A date as people read it in ``language``: ISO 8601 in English (as the JSON twins give
    it), ``2026年12月3日`` in Chinese; text that is not a date is left as it is."""
    if value is None or value == "":
        return ""
    day = value
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    assert isinstance(day, date)
    if language == DEFAULT:
        return day.isoformat()
    return format_date(day, format="long", locale=Locale.parse(_BABEL_LOCALE[language]))


def local_number(value: float | int, language: str) -> str:
    """A number grouped as ``language`` groups it."""
    return format_decimal(value, locale=Locale.parse(_BABEL_LOCALE[language]))
