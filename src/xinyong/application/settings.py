"""Service settings, declared once: used by the app, ``xinyong serve --help`` and the docs."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from xinyong.domain.toml_text import parse_toml
from xinyong.due_process.masking import MaskingPolicy

__all__ = ["SETTINGS", "ServiceSettings", "Setting", "SettingsError", "load_settings"]


@dataclass(frozen=True, slots=True)
class Setting:
    """A documented setting."""

    name: str
    default: object
    help: str
    parse: Callable[[object], object] | None = None
    """Turns a TOML value into the setting's value, raising ValueError (default: the value
    itself, checked against the type of ``default``)."""


SETTINGS = (
    Setting("objection_days", 30, "Days an operator has to decide an objection (FCRA: 30)."),
    Setting(
        "objection_days_by_source",
        {},
        "Deadlines for particular sources, e.g. {tax = 20}. A scheme may set a shorter one for "
        "the records its rules match (the court list: objection_days = 15).",
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
    Setting(
        "repair_days",
        18,
        "Days an operator should take to decide a repair request (the console highlights older "
        "ones); Credit China's 2025 workflow: feedback in 10 working days, a decision in 3 more.",
    ),
    Setting(
        "masking",
        MaskingPolicy().table(),
        "What the public pages show of a listed subject: person_id (region-and-check, "
        "hide-last-four, hidden), person_name (family-name, full, hidden), organization (full, "
        "name-only).",
        MaskingPolicy.from_table,
    ),
    Setting(
        "session_minutes",
        480,
        "How long a web portal sign-in lasts; revoking the key ends it at once.",
    ),
    Setting("rate_per_second", 50.0, "Checks per second per relying party (token bucket)."),
    Setting("burst", 100, "Bucket size: checks a relying party may send at once."),
    Setting(
        "redis_url",
        "",
        "Redis holding the rate limits, shared by every web worker (e.g. "
        "redis://127.0.0.1:6379/0). Without it the limits are divided between the workers.",
    ),
    Setting(
        "threads",
        8,
        "Worker threads for database work (requests wait for a free one); more suits a remote "
        "PostgreSQL, fewer a local SQLite file.",
    ),
    Setting(
        "daily_refresh",
        True,
        "Background workers store each day's standings of the active schemes (as "
        "`xinyong standings refresh` does), so that checks are answered from them.",
    ),
    Setting(
        "read_connections",
        4,
        "PostgreSQL: connections per web worker that read stored standings for checks from the "
        "event loop (each request holds one for one statement).",
    ),
    Setting(
        "ingest_process",
        True,
        "Append submitted records (POST /v1/records) in a separate worker process, so that "
        "checks are not slowed down while a batch is appended and its subjects refreshed.",
    ),
    Setting(
        "inquiry_process",
        True,
        "Write a SQLite ledger's inquiry log (every check, before its answer) in a separate "
        "writer process, so that the service's event loop only decides checks.",
    ),
    Setting(
        "max_body_bytes",
        16 << 20,
        "The largest request body accepted (413 beyond it, refused before it is read or parsed); "
        "a batch of 10,000 records of 1.5 KB fits.",
    ),
    Setting(
        "body_seconds",
        30.0,
        "How long a request body may take to arrive in between two of its parts (408 after).",
    ),
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
        default_factory=lambda: MappingProxyType({})
    )
    suppress_on_lapse: bool = True
    correction_window_days: int = 90
    grace_days: int = 30
    repair_days: int = 18
    masking: MaskingPolicy = field(default_factory=MaskingPolicy)
    session_minutes: int = 480
    rate_per_second: float = 50.0
    burst: int = 100
    redis_url: str = ""
    threads: int = 8
    daily_refresh: bool = True
    read_connections: int = 4
    ingest_process: bool = True
    inquiry_process: bool = True
    max_body_bytes: int = 16 << 20
    body_seconds: float = 30.0
    cache_seconds: float = 2.0
    today: Callable[[], date] = date.today
    """The clock (tests move it forward to pass deadlines)."""

    def objection_deadline(self, source: str) -> int:
        """Days to decide an objection to a record of ``source``."""
        return self.objection_days_by_source.get(source, self.objection_days)


class SettingsError(ValueError):
    """A settings file that cannot be used (the message names the file and the setting)."""


def load_settings(path: Path) -> ServiceSettings:
    """Settings from a TOML file of ``name = value`` pairs (names from :data:`SETTINGS`)."""
    try:
        values = parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    known = {setting.name: setting for setting in SETTINGS}
    chosen: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise SettingsError(f"{path}: unknown setting {name!r} (known: {', '.join(known)})")
        chosen[name] = _checked(path, known[name], value)
    return ServiceSettings(**chosen)


def _checked(path: Path, setting: Setting, value: object) -> object:
    name, default = setting.name, setting.default
    if setting.parse is not None:
        try:
            return setting.parse(value)
        except ValueError as exc:
            raise SettingsError(f"{path}: {name}: {exc}") from exc
    wrong = SettingsError(f"{path}: {name} must be like {default!r}, not {value!r}")
    if isinstance(default, str):
        if not isinstance(value, str):
            raise wrong
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise wrong
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise wrong
        return float(value)
    if not isinstance(value, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
    ):
        raise wrong
    return MappingProxyType(dict(value))
