"""TOML as every xinyong file reader parses it (schemes, experiments, settings, catalogs).

Two things the standard library's parser lets through are refused here, as an ordinary
:class:`tomllib.TOMLDecodeError` reported with the file's other errors:

* nesting: the parser recurses once per level of nested arrays or tables, and a few thousand
  levels end it with a RecursionError, which no caller expects;
* control characters in keys and strings (TOML's ``\\u0000`` escape): a scheme name holding a
  NUL cannot be stored in PostgreSQL, and no control character belongs on a public page
  (:func:`~xinyong.domain.text.text_problem`; tab and line breaks are fine).
"""

from __future__ import annotations

import tomllib
from typing import Any

from xinyong.domain.text import text_problem

__all__ = ["parse_toml"]


def parse_toml(text: str) -> dict[str, Any]:
    """The tables of a TOML document; TOMLDecodeError when it is not valid TOML."""
    try:
        document = tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or tables nested too deeply") from None
    _check_text(document, "")
    return document


def _check_text(value: object, where: str) -> None:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise tomllib.TOMLDecodeError(f"{where or 'a value'}: {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            problem = text_problem(str(key))
            if problem is not None:
                raise tomllib.TOMLDecodeError(f"key {path!r}: {problem}")
            _check_text(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{where}[{index}]")
