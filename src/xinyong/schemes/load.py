"""Loading scheme files: TOML to a validated :class:`~xinyong.schemes.model.Scheme`.

Errors name the file, the line (found by scanning the text, since TOML parsers keep no
positions), the table (``[[rules]] #2 (contract-default)``) and the key. A scheme's version is the
SHA-256 of its canonical JSON form, so reformatting or recommenting a file keeps its version and
any change of meaning makes a new one.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from xinyong.domain.toml_text import parse_toml
from xinyong.schemes.issues import Issue, Locator, SchemeError, Severity
from xinyong.schemes.model import UNION_TAGS, Scheme

__all__ = ["LoadedScheme", "load_scheme", "parse_scheme", "scheme_hash"]

_SECTIONS = ("grades", "rules", "lists", "measures")


@dataclass(frozen=True, slots=True)
class LoadedScheme:
    """A scheme with where it came from and its content hash."""

    scheme: Scheme
    text: str
    path: Path | None
    version: str

    @property
    def short_version(self) -> str:
        """The first 12 hex digits of the version, for people."""
        return self.version[:12]


_LATER_FIELDS = ("objection_days", "peer", "eligibility")
"""Scheme fields added after the first release: hashed only when set, so that adding a field to
the model never changes the version of a scheme that does not use it."""
_LATER_PART_FIELDS: tuple[tuple[str, str, object], ...] = (
    ("grades", "assigned", False),
    ("rules", "grade", None),
    ("measures", "extends_to", []),
    ("lists", "publish", []),
)
"""The same for fields of grades, rules and measures: (part, field, its default)."""


def scheme_hash(scheme: Scheme) -> str:
    """SHA-256 of the scheme's canonical JSON form."""
    canonical = scheme.model_dump(mode="json")
    for name in _LATER_FIELDS:
        if canonical[name] is None:
            del canonical[name]
    for part, name, default in _LATER_PART_FIELDS:
        for item in canonical[part]:
            if item[name] == default:
                del item[name]
    data = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()


def load_scheme(path: Path) -> LoadedScheme:
    """Read and validate a scheme file; raise SchemeError listing every structural error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemeError([Issue(Severity.ERROR, "file", "no such file", str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemeError([Issue(Severity.ERROR, "file", str(exc), str(path))]) from None
    return parse_scheme(text, path)


def parse_scheme(text: str, path: Path | None = None) -> LoadedScheme:
    """Validate scheme text (``path`` is only used in messages)."""
    where = str(path) if path is not None else "<scheme>"
    try:
        data = parse_toml(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise SchemeError(
            [Issue(Severity.ERROR, "toml", f"not valid TOML: {exc}", where, line)]
        ) from None
    try:
        scheme = Scheme.model_validate(data)
    except ValidationError as exc:
        locator = Locator(text, path)
        issues = [_issue(error, data, locator, where) for error in exc.errors()]
        raise SchemeError(issues) from None
    return LoadedScheme(scheme, text, path, scheme_hash(scheme))


def table_label(data: dict[str, Any], section: str, index: int) -> str:
    """``[[rules]] #2 (contract-default)``: a table as a person finds it in the file."""
    items = data.get(section)
    ident = ""
    if isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], dict):
        raw = items[index].get("id", items[index].get("name"))
        ident = f" ({raw})" if isinstance(raw, str) else ""
    return f"[[{section}]] #{index + 1}{ident}"


def _issue(error: Any, data: dict[str, Any], locator: Locator, where: str) -> Issue:
    raw = tuple(error.get("loc", ()))
    # A union's branch tag follows its field (``points.number``): not a key of the file.
    loc = tuple(
        part
        for i, part in enumerate(raw)
        if not (part in UNION_TAGS and i and raw[i - 1] in ("points", "valid_for"))
    )
    message = str(error.get("msg", "invalid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error.get("type") == "extra_forbidden":
        message = "unknown key"
    elif error.get("type") == "missing":
        message = "required key is missing"
    section: str | None = None
    index: int | None = None
    key = ""
    table = ""
    if loc and loc[0] == "peer":
        inner = [str(part) for part in loc[1:]]
        name = "peer.safeguards" if inner[:1] == ["safeguards"] else "peer"
        key = ".".join(inner[1:] if name == "peer.safeguards" else inner)
        line = locator.table_line(name, key.split(".")[0] if key else None)
        return Issue(Severity.ERROR, "schema", message, where, line, f"[{name}]", key)
    if loc and loc[0] == "eligibility":
        key = ".".join(str(part) for part in loc[1:])
        line = locator.table_line("eligibility", key or None)
        return Issue(Severity.ERROR, "schema", message, where, line, "[eligibility]", key)
    if loc and loc[0] in _SECTIONS and len(loc) >= 2 and isinstance(loc[1], int):
        section, index = str(loc[0]), int(loc[1])
        table = table_label(data, section, index)
        key = ".".join(str(part) for part in loc[2:])
    elif loc:
        key = ".".join(str(part) for part in loc)
    first_key = key.split(".")[0] if key else None
    line = locator.line(section, index, first_key)
    return Issue(Severity.ERROR, "schema", message, where, line, table, key)
