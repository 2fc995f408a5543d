"""Source names: who furnished a record. One rule for every entry point that names a source
(ingest, a source's key, its webhook registration), so that a name accepted in one place is a
name records can carry."""

from __future__ import annotations

import re

__all__ = ["SOURCE_NAME", "source_problem"]

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
"""Letters, digits and ``_.:-``, starting with a letter or digit; at most 64 characters."""


def source_problem(name: str) -> str | None:
    """Why ``name`` is not a source name, or None when it is one."""
    if SOURCE_NAME.match(name):
        return None
    return f"bad source name {name!r}: letters, digits and _.:- only, at most 64"
