"""Plain text as xinyong stores it: no control characters (C0, DEL, C1) but tab, line feed and
carriage return.

A NUL cannot be stored in PostgreSQL text at all (the database refuses the whole statement), and
no other control character belongs in a name, a reason or an id; every entry point (paths, query
parameters, forms, JSON, files) refuses them with :func:`text_problem`'s reason instead of
failing later or storing what a person cannot see.
"""

from __future__ import annotations

import re

__all__ = ["PLAIN_TEXT_PATTERN", "plain_or_raise", "text_problem"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
PLAIN_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
"""The same rule as a JSON Schema pattern, for API documents (a JSON body cannot carry a lone
surrogate at all: :mod:`xinyong.domain.json_text` refuses it)."""


def text_problem(value: str) -> str | None:
    """Why ``value`` is not plain text, or None when it is."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    char = found.group()
    what = "lone surrogate" if "\ud800" <= char <= "\udfff" else "control character"
    return f"{what} U+{ord(char):04X} at position {found.start() + 1}"


def plain_or_raise(error: type[Exception], **fields: str) -> None:
    """Raise ``error`` naming the first of ``fields`` that is not plain text."""
    for name, value in fields.items():
        problem = text_problem(value)
        if problem is not None:
            raise error(f"{name}: {problem}")
