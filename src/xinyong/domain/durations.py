"""Durations written as ``<n><unit>`` in catalog and scheme files.

Units follow the scheme contract: ``d`` (day), ``w`` (7 days), ``m`` (30 days), ``y`` (365 days).
Calendar months and years are deliberately *not* used: a fixed number of days makes the age test
``t - occurred_at < valid_for`` identical in every evaluator and every SQL dialect.
"""

from __future__ import annotations

import re

__all__ = ["UNIT_DAYS", "DurationError", "format_days", "parse_duration"]

UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}

_DURATION = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$")


class DurationError(ValueError):
    """A duration string that is not ``<non-negative integer><d|w|m|y>``."""


def parse_duration(text: str) -> int:
    """Return the number of days in ``text`` (``"3y"`` -> 1095)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise DurationError(
            f"bad duration {text!r}: expected a whole number and a unit d, w, m or y (e.g. '3y')"
        )
    return int(match.group(1)) * UNIT_DAYS[match.group(2)]


def format_days(days: int) -> str:
    """Render a day count in the largest unit that divides it exactly (1095 -> ``"3y"``)."""
    for unit in ("y", "m", "w"):
        size = UNIT_DAYS[unit]
        if days and days % size == 0:
            return f"{days // size}{unit}"
    return f"{days}d"
