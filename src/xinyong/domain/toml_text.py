"""TOML as every xinyong file reader parses it (schemes, experiments, settings, catalogs).

The standard library's parser recurses once per level of nested arrays or tables, and a file
nesting a few thousand of them ends it with a RecursionError, which no caller expects; here such
a file is an ordinary :class:`tomllib.TOMLDecodeError`, reported with the file's other errors.
"""

from __future__ import annotations

import tomllib
from typing import Any

__all__ = ["parse_toml"]


def parse_toml(text: str) -> dict[str, Any]:
    """The tables of a TOML document; TOMLDecodeError when it is not valid TOML."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or tables nested too deeply") from None
