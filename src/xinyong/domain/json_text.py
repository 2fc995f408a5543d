"""JSON as xinyong accepts it: one strict reading for API bodies and JSON Lines files alike.

RFC 8259 leaves some things to the reader, and readers differ: a duplicated key keeps its last
value in one and its first in another, ``NaN`` and ``1e400`` become a float in one and an error
in another, a lone ``\\ud800`` escape becomes a string no database can store. A record whose
meaning depends on the reader must not reach a ledger, so :func:`parse_json` refuses all of them
with the position of the problem:

* text that is not UTF-8, or a lone surrogate escape;
* a key given twice in one object;
* ``NaN``, ``Infinity`` and numbers too large for a double (``1e400``);
* integers outside 64 bits (what DuckDB, PostgreSQL and orjson hold);
* control characters in strings (C0, DEL, C1) other than tab, line feed and carriage return (a
  NUL cannot be stored in PostgreSQL text, and none of them belongs in a record).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = ["INT_MAX", "INT_MIN", "JsonRefused", "parse_json"]

INT_MIN, INT_MAX = -(2**63), 2**64 - 1
"""The integers a JSON number may hold (signed and unsigned 64 bits)."""

_CONTROL_ESCAPE = re.compile(
    r"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])"
)
"""A ``\\u`` escape of a control character (an even run of backslashes before it is text)."""
_RAW_CONTROL = re.compile(r"[\x7f-\x9f]")


class JsonRefused(json.JSONDecodeError):
    """JSON that :func:`parse_json` does not accept: the reason, and where (line, column) when
    the reader knows it (a key given twice is named instead)."""

    def __init__(self, msg: str, doc: str, pos: int | None) -> None:
        if pos is not None:
            super().__init__(msg, doc, pos)
            return
        ValueError.__init__(self, msg)
        self.msg, self.doc, self.pos, self.lineno, self.colno = msg, doc, 0, 1, 1


def parse_json(data: bytes | str) -> Any:
    """The value of a JSON document, read strictly (see the module's docstring)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused(
                f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                data[: exc.start].decode("utf-8", errors="replace"),
                exc.start,
            ) from None
    else:
        text = data
    try:  # orjson refuses lone surrogates, NaN, Infinity and 1e400, and is fast
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise JsonRefused(exc.msg, exc.doc, exc.pos) from None
    except UnicodeEncodeError as exc:  # a str holding a surrogate itself
        raise JsonRefused("a lone surrogate is not text", text, exc.start) from None
    control = _CONTROL_ESCAPE.search(text)
    if control is not None:
        escape = text[control.end() - 6 : control.end()]
        raise JsonRefused(f"control character {escape} in a string", text, control.end() - 6)
    raw = _RAW_CONTROL.search(text)  # DEL and C1 are valid JSON unescaped, but not text
    if raw is not None:
        raise JsonRefused(f"control character U+{ord(raw.group()):04X}", text, raw.start())
    return _DECODER.decode(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"key {key!r} given twice in one object")
            seen.add(key)
    return value


def _integer(text: str) -> int:
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"integer {text[:30]} is outside 64 bits")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:30]} is too large")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _Decoder(json.JSONDecoder):
    """The standard decoder with the checks above; a ValueError from a hook becomes a
    :class:`JsonRefused` at the end of the value that raised it."""

    def __init__(self) -> None:
        super().__init__(
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
        )

    def decode(self, s: str, _w: Any = None) -> Any:
        try:
            return super().decode(s)
        except json.JSONDecodeError as exc:
            raise JsonRefused(exc.msg, exc.doc, exc.pos) from None
        except ValueError as exc:
            raise JsonRefused(str(exc), s, None) from None


_DECODER = _Decoder()
