"""Simplified Chinese and English: message catalogs, and dates and numbers by language.

Every text people read (the portal's pages, the notices sent to subjects, the lab's report) is
written in English, in templates (``{% trans %}`` blocks and ``_()``, whitespace trimmed) and in
Python (:func:`N_` marks text defined in one place and translated where it is shown, with
:func:`gettext_for`); its Chinese is in the gettext catalogs under ``src/xinyong/locale/
zh_Hans/LC_MESSAGES/*.po`` (several files, merged: one per part), read with Babel and compiled
in memory on first use, so there is no binary file to keep in step. Chinese terms follow the
official ones (失信被执行人名单, 信用修复, 异议, 红名单, 黑名单, 联合惩戒, 信用承诺).
``tests/web/test_i18n.py`` fails on any message without a translation.

A bottom layer: the portal (:mod:`xinyong.web.i18n` picks a request's language), due process
(notices) and the lab (its report) all read the same catalogs.
"""

from __future__ import annotations

import functools
import io
import tomllib
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Final

from babel import Locale
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Message",
    "catalog",
    "data_text",
    "extract_toml",
    "gettext_for",
    "local_date",
    "local_number",
    "strings_under",
    "translations",
]

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
LANGUAGES: Final = {"en": "English", "zh": "中文"}
"""The languages, by the code ``?lang=`` and ``--lang`` take, with their names in themselves."""
DEFAULT: Final = "en"
_CATALOG_LOCALE: Final = {"zh": "zh_Hans"}
_BABEL_LOCALE: Final = {"en": "en", "zh": "zh_Hans_CN"}


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; it is translated when shown."""
    return message


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


def gettext_for(language: str) -> Callable[[str], str]:
    """``gettext`` in ``language``: text marked with :func:`N_` (or ``_``), translated."""
    return translations(language).gettext


class Message(str):
    """Text made where the reader's language is not known (a page's error, a refused form's
    reason, why a scheme does not score a subject): its value is the English, filled, as the API
    and the JSON twins give it; the portal's ``in_language`` shows it in another language,
    translating the template (marked with :func:`N_`) before filling it, so that no translation
    is ever looked up for a text that holds data."""

    template: str
    params: Mapping[str, object]

    def __new__(cls, template: str, /, **params: object) -> Message:
        made = super().__new__(cls, template % params if params else template)
        made.template = template
        made.params = params
        return made


def data_text(text: str, language: str) -> str:
    """Text of the data that the catalogs may translate (the bundled code catalog's
    descriptions, legal bases and publicity laws, extracted by :func:`extract_toml`) as
    ``language`` reads it: its translation when a catalog has one, else as written (a
    deployment's own catalog). Empty text stays empty: ``gettext("")`` is a catalog's header."""
    return gettext_for(language)(text) if text else text


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


def extract_toml(
    fileobj: io.BufferedIOBase,
    keywords: object,
    comment_tags: object,
    options: Mapping[str, str],
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel's extraction method for text people read in a bundled TOML file (the code
    catalog's descriptions and legal bases): the string values of the keys that ``options``
    names (``keys = description legal_basis``), anywhere in the file. Shown through a template's
    ``|tr`` filter, they read in the page's language; a deployment's own file, whose text no
    catalog translates, reads as written."""
    wanted = set(options.get("keys", "").split())
    document = tomllib.loads(fileobj.read().decode("utf-8"))
    for text in strings_under(document, wanted):
        yield 0, None, text, []


def strings_under(node: object, wanted: set[str]) -> Iterator[str]:
    """The non-empty string values of the keys in ``wanted`` anywhere in a parsed TOML
    document: the text of a bundled file that the catalogs translate."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in wanted and isinstance(value, str) and value:
                yield value
            else:
                yield from strings_under(value, wanted)
    elif isinstance(node, list):
        for item in node:
            yield from strings_under(item, wanted)
