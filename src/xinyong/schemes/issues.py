"""Problems found in a scheme file, located by file, line, table and key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["Issue", "Locator", "SchemeError", "Severity"]


class Severity(StrEnum):
    """Errors stop a scheme from scoring; warnings are guardrails (errors under ``--strict``)."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding of the loader or the linter."""

    severity: Severity
    check: str
    message: str
    file: str = ""
    line: int | None = None
    table: str = ""
    key: str = ""
    where: str = ""
    """Where the finding is, by ids rather than lines: ``measures.rail_ban.grades``,
    ``peer.algorithm`` (what an override names, with :attr:`ref`)."""

    @property
    def ref(self) -> str:
        """``check@where`` (or the check alone): the finding as an override names it."""
        return f"{self.check}@{self.where}" if self.where else self.check

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        place = " ".join(part for part in (self.table, self.key) if part)
        head = f"{where}: " if where else ""
        at = f" {place}" if place else ""
        return f"{head}{self.severity.value} [{self.check}]{at}: {self.message}"


class SchemeError(ValueError):
    """A scheme that cannot be used; ``issues`` lists every error found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_]+)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.]+)\s*\]")


class Locator:
    """Finds the line of a key in TOML text (tomllib keeps no positions)."""

    def __init__(self, text: str, path: Path | None = None) -> None:
        self.lines = text.splitlines()
        self.file = str(path) if path is not None else ""

    def line(self, section: str | None, index: int | None, key: str | None) -> int | None:
        """1-based line of ``key`` in the ``index``-th ``[[section]]`` (or at top level)."""
        start, end = 0, len(self.lines)
        if section is not None:
            seen = -1
            found = None
            for number, text in enumerate(self.lines):
                match = _HEADER.match(text)
                if match and match.group(1) == section:
                    seen += 1
                    if index is None or seen == index:
                        found = number
                        break
            if found is None:
                return self._key_line(key or section, 0, len(self.lines))
            start = found
            end = next(
                (
                    n
                    for n in range(found + 1, len(self.lines))
                    if _HEADER.match(self.lines[n]) or _TABLE.match(self.lines[n])
                ),
                len(self.lines),
            )
            if key is None:
                return start + 1
            return self._key_line(key, start + 1, end) or start + 1
        end = next(
            (n for n, text in enumerate(self.lines) if _HEADER.match(text) or _TABLE.match(text)),
            len(self.lines),
        )
        return self._key_line(key, 0, end) if key else None

    def table_line(self, table: str, key: str | None) -> int | None:
        """1-based line of ``key`` in the single table ``[table]`` (its header without a key)."""
        for number, text in enumerate(self.lines):
            match = _TABLE.match(text)
            if match and not _HEADER.match(text) and match.group(1) == table:
                end = next(
                    (
                        n
                        for n in range(number + 1, len(self.lines))
                        if _HEADER.match(self.lines[n]) or _TABLE.match(self.lines[n])
                    ),
                    len(self.lines),
                )
                found = self._key_line(key, number + 1, end) if key else None
                return found or number + 1
        return None

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number in range(start, end):
            if pattern.match(self.lines[number]):
                return number + 1
        return None
