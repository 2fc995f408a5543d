"""Durations written as ``<n><unit>`` in catalog and scheme files.

Units: ``d`` (a day), ``w`` (7 days), ``m`` (a month), ``y`` (a year). How long a month is
depends on where a duration is used:

- a rule's ``valid_for`` is a legal term, so its months and years are *calendar* months and
  years (:class:`Term`): a record of 2023-07-01 valid for ``2y`` counts until 2025-07-01,
  whatever the leap days between; adding months keeps the day of the month and clamps it to
  the month's last day (2024-01-31 + 1m = 2024-02-29; 2024-02-29 + 1y = 2025-02-28);
- everywhere else (the catalog's display periods, the peer section's windows, the lab's steps)
  a duration is a fixed number of days (:func:`parse_duration`: ``m`` 30 days, ``y`` 365).
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "UNIT_DAYS",
    "DurationError",
    "Term",
    "add_months",
    "format_days",
    "parse_duration",
    "parse_term",
]

UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}

_DURATION = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$")


class DurationError(ValueError):
    """A duration string that is not ``<non-negative integer><d|w|m|y>``."""


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, the day of the month clamped to the last day of
    the month reached."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if year > date.max.year:  # a term longer than the calendar: it never ends
        return date.max
    if year < date.min.year:
        return date.min
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True, slots=True)
class Term:
    """A rule's ``valid_for``: ``days`` (``d``, ``w``) or calendar ``months`` (``m``, ``y``);
    exactly one of the two is set."""

    days: int | None
    months: int | None
    text: str

    def ends_on(self, start: date) -> date:
        """The first day the term no longer covers, for a term starting on ``start``: a record
        that occurred on ``start`` counts on the dates before it."""
        if self.months is not None:
            return add_months(start, self.months)
        assert self.days is not None
        if self.days > (date.max - start).days:  # a term longer than the calendar: never ends
            return date.max
        return start + timedelta(days=self.days)

    def length_from(self, start: date) -> int:
        """The term's length in days, starting on ``start`` (a calendar year may have 366)."""
        return (self.ends_on(start) - start).days

    @property
    def most_days(self) -> int:
        """No start gives a longer term than this many days (31 per month)."""
        return self.days if self.days is not None else 31 * (self.months or 0)

    @property
    def nominal_days(self) -> int:
        """The term in the catalog's fixed days (``m`` 30, ``y`` 365), to compare with the
        catalog's periods."""
        return parse_duration(self.text)


@functools.lru_cache(maxsize=4096)
def parse_term(text: str) -> Term:
    """A rule's ``valid_for`` (:class:`Term`)."""
    match = _match(text)
    count, unit = int(match.group(1)), match.group(2)
    clean = f"{count}{unit}"
    if unit in ("d", "w"):
        return Term(count * UNIT_DAYS[unit], None, clean)
    return Term(None, count * (12 if unit == "y" else 1), clean)


def _match(text: str) -> re.Match[str]:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise DurationError(
            f"bad duration {text!r}: expected a whole number and a unit d, w, m or y (e.g. '3y')"
        )
    return match


def parse_duration(text: str) -> int:
    """Return the number of days in ``text`` (``"3y"`` -> 1095)."""
    match = _match(text)
    return int(match.group(1)) * UNIT_DAYS[match.group(2)]


def format_days(days: int) -> str:
    """Render a day count in the largest unit that divides it exactly (1095 -> ``"3y"``)."""
    for unit in ("y", "m", "w"):
        size = UNIT_DAYS[unit]
        if days and days % size == 0:
            return f"{days // size}{unit}"
    return f"{days}d"
