"""Service settings, declared once: used by the app, ``xinyong serve --help`` and the docs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

__all__ = ["SETTINGS", "ServiceSettings", "Setting"]


@dataclass(frozen=True, slots=True)
class Setting:
    """A documented setting."""

    name: str
    default: object
    help: str


SETTINGS = (
    Setting("objection_days", 30, "Days an operator has to decide an objection (FCRA: 30)."),
    Setting(
        "objection_days_by_source",
        {"court": 15},
        "Deadlines for particular sources (the court list: 15 days).",
    ),
    Setting(
        "suppress_on_lapse",
        True,
        "Suppress a record whose objection was not decided by its deadline.",
    ),
    Setting(
        "correction_window_days", 90, "How far back a changed answer is pushed to relying parties."
    ),
    Setting("grace_days", 30, "Days between the listing notice and publication of an entry."),
    Setting("rate_per_second", 50.0, "Checks per second per relying party (token bucket)."),
    Setting("burst", 100, "Bucket size: checks a relying party may send at once."),
    Setting(
        "cache_seconds",
        2.0,
        "How long keys, registrations and active schemes are cached; changes made through the "
        "service apply at once, changes made elsewhere (the CLI) after at most this long.",
    ),
)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """Settings of one running service (defaults from :data:`SETTINGS`)."""

    objection_days: int = 30
    objection_days_by_source: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"court": 15})
    )
    suppress_on_lapse: bool = True
    correction_window_days: int = 90
    grace_days: int = 30
    rate_per_second: float = 50.0
    burst: int = 100
    cache_seconds: float = 2.0
    today: Callable[[], date] = date.today
    """The clock (tests move it forward to pass deadlines)."""

    def objection_deadline(self, source: str) -> int:
        """Days to decide an objection to a record of ``source``."""
        return self.objection_days_by_source.get(source, self.objection_days)
