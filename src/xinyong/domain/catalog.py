"""The code catalog: every conduct code that may be collected, and what it means.

China's public credit information catalog caps what agencies may collect; xinyong does the same.
Ingest rejects a record whose code is not in the catalog, and a catalog entry carries everything
due process needs about a code: its severity tier, how long it may be displayed (minimum before
repair may be requested, maximum after which it expires by itself) and its legal basis.

The bundled catalog is ``catalog.toml`` beside this module; an operator replaces it with
``--catalog FILE`` or the ``XINYONG_CATALOG`` environment variable.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from xinyong.domain.durations import DurationError, parse_duration
from xinyong.domain.protected import protected_term
from xinyong.domain.records import SUBJECT_KINDS
from xinyong.domain.toml_text import parse_toml

__all__ = [
    "BUNDLED_CATALOG",
    "CODE_PATTERN",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "Polarity",
    "RatingPolicy",
    "Severity",
    "load_catalog",
]

BUNDLED_CATALOG = Path(__file__).with_name("catalog.toml")

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""Dotted lowercase codes with at least two parts: ``court.defaulter``."""

_ATTR_TYPES = frozenset({"number", "string", "boolean"})


class Severity(StrEnum):
    """Severity tiers of the NDRC credit repair measures."""

    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


class Polarity(StrEnum):
    """Whether a code records dishonest conduct or a fulfilment / pro-social act."""

    NEGATIVE = "negative"
    POSITIVE = "positive"


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file, entry and key."""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One collectable code."""

    code: str
    description: str
    category: str
    severity: Severity
    polarity: Polarity
    subject_kinds: tuple[str, ...]
    min_display_days: int
    max_display_days: int
    legal_basis: str
    attrs: Mapping[str, str] = field(default_factory=dict)
    publicity: str = ""
    """The law under which records of this code about an organisation are published (its public
    credit report shows them); empty when they are not public."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickled, (type(self), _plain_fields(self))


@dataclass(frozen=True, slots=True)
class RatingPolicy:
    """What ingest enforces on peer ratings (the catalog's ``[peer]`` table)."""

    rating_window_days: int = 7
    """A rating is accepted on the interaction's day or at most this many days after it."""
    daily_ratings: int = 20
    """At most this many ratings per rater and day."""


@dataclass(frozen=True, slots=True)
class Catalog:
    """A loaded catalog: codes by name plus the guardrail configuration."""

    version: str
    title: str
    codes: Mapping[str, CatalogEntry]
    protected_attributes: frozenset[str]
    source: Path
    ratings: RatingPolicy = RatingPolicy()

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickled, (type(self), _plain_fields(self))

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def get(self, code: str) -> CatalogEntry | None:
        """The entry for ``code``, or None when it may not be collected."""
        return self.codes.get(code)

    def codes_by_max_display(self) -> list[tuple[int, list[str]]]:
        """``(maximum display days, sorted codes)`` per distinct period, shortest first."""
        groups: dict[int, list[str]] = {}
        for entry in self.codes.values():
            groups.setdefault(entry.max_display_days, []).append(entry.code)
        return [(days, sorted(codes)) for days, codes in sorted(groups.items())]


def _plain_fields(value: CatalogEntry | Catalog) -> dict[str, Any]:
    """The fields of a catalog or entry, its read-only mappings as dicts: pickle cannot write a
    ``MappingProxyType``, and an ingest sends the catalog to the process that validates its
    file (:mod:`xinyong.ingest.apart`)."""
    return {
        f.name: dict(v) if isinstance(v := getattr(value, f.name), MappingProxyType) else v
        for f in fields(value)
    }


def _unpickled(kind: type[Any], values: dict[str, Any]) -> Any:
    """A catalog or entry from :func:`_plain_fields`, its mappings read-only again."""
    return kind(**{k: MappingProxyType(v) if isinstance(v, dict) else v for k, v in values.items()})


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file (the bundled one by default).

    ``path`` None means ``$XINYONG_CATALOG`` when set, else the bundled catalog.
    """
    if path is None:
        env = os.environ.get("XINYONG_CATALOG")
        path = Path(env) if env else BUNDLED_CATALOG
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: catalog file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read the catalog ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from exc
    return _parse(data, path)


def _parse(data: dict[str, Any], path: Path) -> Catalog:
    where = str(path)
    known_top = {"version", "title", "guardrails", "tiers", "codes", "peer"}
    for key in data:
        if key not in known_top:
            raise CatalogError(f"{where}: unknown top-level key {key!r}")
    guardrails = data.get("guardrails", {})
    protected = frozenset(str(k).lower() for k in guardrails.get("protected_attributes", []))
    tiers: dict[str, tuple[int, int]] = {}
    for tier in Severity:
        spec = data.get("tiers", {}).get(tier.value)
        if spec is None:
            raise CatalogError(f"{where}: [tiers.{tier.value}] is missing")
        tiers[tier.value] = (
            _duration(spec, "min_display", f"{where}: [tiers.{tier.value}]"),
            _duration(spec, "max_display", f"{where}: [tiers.{tier.value}]"),
        )
    codes: dict[str, CatalogEntry] = {}
    for index, raw in enumerate(data.get("codes", []), start=1):
        entry = _parse_entry(raw, f"{where}: [[codes]] #{index}", tiers, protected)
        if entry.code in codes:
            raise CatalogError(f"{where}: [[codes]] #{index}: duplicate code {entry.code!r}")
        codes[entry.code] = entry
    if not codes:
        raise CatalogError(f"{where}: the catalog lists no [[codes]]")
    return Catalog(
        version=str(data.get("version", "")),
        title=str(data.get("title", "")),
        codes=MappingProxyType(codes),
        protected_attributes=protected,
        source=path,
        ratings=_rating_policy(data.get("peer", {}), f"{where}: [peer]"),
    )


def _rating_policy(raw: Any, where: str) -> RatingPolicy:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where} must be a table")
    for key in raw:
        if key not in ("rating_window", "daily_ratings"):
            raise CatalogError(f"{where}: unknown key {key!r}")
    default = RatingPolicy()
    window = _duration(raw, "rating_window", where) if "rating_window" in raw else None
    limit = raw.get("daily_ratings", default.daily_ratings)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise CatalogError(f"{where}: daily_ratings must be a whole number of at least 1")
    return RatingPolicy(
        rating_window_days=default.rating_window_days if window is None else window,
        daily_ratings=limit,
    )


def _parse_entry(
    raw: dict[str, Any],
    where: str,
    tiers: Mapping[str, tuple[int, int]],
    protected: frozenset[str],
) -> CatalogEntry:
    allowed = {
        "code",
        "description",
        "category",
        "severity",
        "polarity",
        "subject_kinds",
        "min_display",
        "max_display",
        "legal_basis",
        "attrs",
        "publicity",
    }
    for key in raw:
        if key not in allowed:
            raise CatalogError(f"{where}: unknown key {key!r}")
    code = _text(raw, "code", where)
    where = f"{where} ({code})"
    if not CODE_PATTERN.match(code):
        raise CatalogError(f"{where}: code must be dotted lowercase like 'court.defaulter'")
    named = protected_term(code, protected)
    if named is not None:
        raise CatalogError(f"{where}: {named.reason()}: no conduct record may be about it")
    try:
        severity = Severity(_text(raw, "severity", where))
        polarity = Polarity(raw.get("polarity", "negative"))
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc}") from exc
    kinds = tuple(raw.get("subject_kinds", SUBJECT_KINDS))
    if not kinds or any(k not in SUBJECT_KINDS for k in kinds):
        raise CatalogError(f"{where}: subject_kinds must be a non-empty subset of {SUBJECT_KINDS}")
    tier_min, tier_max = tiers[severity.value]
    min_days = _duration(raw, "min_display", where) if "min_display" in raw else tier_min
    max_days = _duration(raw, "max_display", where) if "max_display" in raw else tier_max
    if min_days > max_days:
        raise CatalogError(f"{where}: min_display is longer than max_display")
    attrs = raw.get("attrs", {})
    if not isinstance(attrs, dict):
        raise CatalogError(f"{where}: attrs must be a table of name = type")
    for name, kind in attrs.items():
        if kind not in _ATTR_TYPES:
            raise CatalogError(f"{where}: attrs.{name}: type must be one of {sorted(_ATTR_TYPES)}")
        match = protected_term(name, protected)
        if match is not None:
            raise CatalogError(f"{where}: attrs.{name}: {match.reason()} and may not be collected")
    return CatalogEntry(
        code=code,
        description=_text(raw, "description", where),
        category=_text(raw, "category", where),
        severity=severity,
        polarity=polarity,
        subject_kinds=kinds,
        min_display_days=min_days,
        max_display_days=max_days,
        legal_basis=_text(raw, "legal_basis", where),
        attrs=MappingProxyType(dict(attrs)),
        publicity=_text(raw, "publicity", where) if "publicity" in raw else "",
    )


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: {key} must be a non-empty string")
    return value


def _duration(raw: Mapping[str, Any], key: str, where: str) -> int:
    try:
        return parse_duration(raw[key])
    except KeyError as exc:
        raise CatalogError(f"{where}: {key} is missing") from exc
    except DurationError as exc:
        raise CatalogError(f"{where}: {key}: {exc}") from exc
