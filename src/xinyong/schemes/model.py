"""The scheme model: what a pilot file declares, validated into frozen objects.

A scheme (see ``docs/schemes.md`` for the full semantics with worked examples) starts every
subject at ``base`` points, adds the points of each rule's counting records, clamps to
``[floor, ceiling]``, assigns the first grade whose ``min`` the score reaches, and derives list
membership and measures from grades and counting records. A scheme with a ``[peer]`` section also
adds ``weight`` times the subject's peer score (0 to 5, computed over the rating graph by
:mod:`xinyong.peer`) to the score.

Structural errors (unknown keys, wrong types) are caught by pydantic here; cross-references and
guardrails are checked by :mod:`xinyong.schemes.lint`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from xinyong.domain.durations import Term, parse_duration, parse_term
from xinyong.domain.relations import Role
from xinyong.schemes.predicate import Node, attribute_names, number_value, parse_predicate

__all__ = [
    "ATTRIBUTE_NAME",
    "LONGEST_TERM_DAYS",
    "MAX_UNITS",
    "SMALLEST_POINTS",
    "SMALLEST_UNITS",
    "UNION_TAGS",
    "Eligibility",
    "Grade",
    "ListDef",
    "Measure",
    "PeerSection",
    "PointsPer",
    "Rule",
    "Safeguards",
    "Scheme",
    "TermFrom",
]

_ID = re.compile(r"^[a-z0-9-]+$")
_PART_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
"""Rule, list and measure ids: no spaces and no ';' (lists and measures are joined by ';')."""
SubjectKindName = Literal["person", "organization"]
Number = Annotated[float, Field(allow_inf_nan=False, strict=True)]
"""Numbers must be TOML numbers: ``points = "5"`` or ``points = true`` is an error."""
SMALLEST_POINTS = 1e-6
"""The smallest non-zero points a rule may give (in magnitude)."""
SMALLEST_UNITS = sys.float_info.min
"""A record's units below this (the smallest normal double) count as 0."""


def _points(value: float) -> float:
    if value != 0 and abs(value) < SMALLEST_POINTS:
        raise ValueError(f"points must be 0 or at least {SMALLEST_POINTS:g} in magnitude")
    return value


PointsNumber = Annotated[Number, AfterValidator(_points)]
"""Points of a rule: with the units (at least :data:`SMALLEST_UNITS` when not 0) and a linear
decay's factor (at least one day in a thousand years), a contribution is never so small that
multiplying rounds it to 0, which PostgreSQL refuses as an underflow instead of answering 0."""
Flag = Annotated[bool, Field(strict=True)]
Share = Annotated[float, Field(allow_inf_nan=False, strict=True, ge=0, le=1)]
"""A fraction of a rating's weight that is kept (0: ignored, 1: unchanged)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def _check_id(value: str, what: str) -> str:
    if what == "scheme id":
        if not _ID.match(value):
            raise ValueError(f"scheme id must match [a-z0-9-]+ (got {value!r})")
    elif not _PART_ID.match(value):
        raise ValueError(f"{what} must be letters, digits and _ . : - (got {value!r})")
    return value


class Grade(_Frozen):
    """A grade band; ``min`` None only on the last grade scored by points and on an
    ``assigned`` grade."""

    name: str
    min: Number | None = None
    assigned: bool = False
    """Given only by a rule's ``grade`` or ``veto``, never by the score (the tax rating's M for
    a newly established firm)."""
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or value != value.strip() or ";" in value:
            raise ValueError(f"grade name must be non-empty, unpadded, without ';' (got {value!r})")
        return value


ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""An attribute's name, as a ``when`` predicate writes it."""


def _attribute(value: str) -> str:
    if not ATTRIBUTE_NAME.match(value):
        raise ValueError(f"an attribute name is letters, digits and _ (got {value!r})")
    return value


MAX_UNITS = 1_000_000
"""The most ``max_units`` may be."""
LONGEST_TERM_DAYS = 365_000
"""No ``valid_for = {attr ...}`` may reach further than a thousand years."""


class PointsPer(_Frozen):
    """Points that scale with a number the record carries: ``each`` per unit of the attribute
    ``per``, for at most ``max_units`` units (Rongcheng's "-10 per month in arrears")."""

    per: str
    each: PointsNumber
    max_units: Number = Field(gt=0, le=MAX_UNITS)
    """Required: a record's number is data, and one record must not move a score without
    bound (nor overflow an engine's arithmetic)."""

    @field_validator("per")
    @classmethod
    def _per(cls, value: str) -> str:
        return _attribute(value)

    def units(self, attrs: Mapping[str, object]) -> float | None:
        """The units a record's attributes give: the attribute's number, at most ``max_units``
        (0 below :data:`SMALLEST_UNITS`); None when it is missing, not a number or negative (the
        record then does not count)."""
        value = number_value(attrs.get(self.per))
        if value is None or value < 0:
            return None
        return 0.0 if value < SMALLEST_UNITS else min(value, self.max_units)

    @property
    def text(self) -> str:
        """How the scheme file writes it, in short."""
        return f"{self.each:g} per {self.per}, at most {self.max_units:g}"


_TERM_UNITS = {"d": (1, False), "w": (7, False), "m": (1, True), "y": (12, True)}
"""Each unit in the term's base: (days or calendar months, whether calendar months)."""


class TermFrom(_Frozen):
    """A term read from the record (``valid_for = { attr = "term_years", unit = "y", default =
    "2y", max = "5y" }``): the court decides how many years an aggravated listing is extended.

    A record's term is its attribute's number of ``unit``s when that is a whole number from 0
    up, ``max`` when it is a number at least ``max`` (so a court's "7 years" counts for the
    longest term the scheme allows), and ``default`` otherwise (missing, null, not a number,
    negative or a fraction).
    """

    attr: str
    unit: Literal["d", "w", "m", "y"]
    default: str
    max: str

    @field_validator("attr")
    @classmethod
    def _attr(cls, value: str) -> str:
        return _attribute(value)

    @model_validator(mode="after")
    def _consistent(self) -> TermFrom:
        size, calendar = _TERM_UNITS[self.unit]
        for key in ("default", "max"):
            term = parse_term(getattr(self, key))
            if (term.months is not None) != calendar:
                family = "months or years (m, y)" if calendar else "days or weeks (d, w)"
                raise ValueError(f"{key} must be in {family}, as unit {self.unit!r} is")
        if self._base(self.max) % size:
            raise ValueError(f"max must be a whole number of {self.unit!r} (got {self.max!r})")
        if self._base(self.default) > self._base(self.max):
            raise ValueError(f"default {self.default!r} is longer than max {self.max!r}")
        if parse_term(self.max).most_days > LONGEST_TERM_DAYS:
            raise ValueError(f"max {self.max!r} is longer than a thousand years")
        return self

    @staticmethod
    def _base(text: str) -> int:
        term = parse_term(text)
        return term.months if term.months is not None else term.days or 0

    @property
    def size(self) -> int:
        """One ``unit`` in days (``d``, ``w``) or calendar months (``m``, ``y``)."""
        return _TERM_UNITS[self.unit][0]

    @property
    def calendar(self) -> bool:
        """Whether the term is in calendar months (``m``, ``y``) rather than days."""
        return _TERM_UNITS[self.unit][1]

    @property
    def default_base(self) -> int:
        """``default`` in days or calendar months (as :attr:`calendar`)."""
        return self._base(self.default)

    @property
    def most_units(self) -> int:
        """``max`` in ``unit``s."""
        return self._base(self.max) // self.size

    @property
    def longest(self) -> Term:
        """The longest term a record can get: ``max``."""
        return parse_term(self.max)

    def term(self, attrs: Mapping[str, object]) -> Term:
        """The term of a record with these attributes."""
        value = number_value(attrs.get(self.attr))
        if value is not None and value >= self.most_units:
            count = self.most_units
        elif value is not None and value >= 0 and value.is_integer():
            count = int(value)
        else:
            return parse_term(self.default)
        base = count * self.size
        if self.calendar:
            text = f"{base // 12}y" if base % 12 == 0 else f"{base}m"
            return Term(None, base, text)
        return Term(base, None, f"{count}{self.unit}")

    @property
    def text(self) -> str:
        """How the scheme file writes it, in short."""
        return f"{self.attr} ({self.unit}; default {self.default}, at most {self.max})"


UNION_TAGS = frozenset({"number", "per_unit", "duration", "term_from"})
"""The branches of ``points`` and ``valid_for``: chosen by the value's type (a table or not), so
that an error names the one the file meant; loaders drop them from an error's location."""


def _table_or(other: str, table: str) -> Callable[[object], str]:
    return lambda value: table if isinstance(value, dict | BaseModel) else other


Points = Annotated[
    Annotated[PointsNumber, Tag("number")] | Annotated[PointsPer, Tag("per_unit")],
    Discriminator(_table_or("number", "per_unit")),
]
ValidFor = Annotated[
    Annotated[str, Tag("duration")] | Annotated[TermFrom, Tag("term_from")],
    Discriminator(_table_or("duration", "term_from")),
]


class Rule(_Frozen):
    """Points for the records that match a code pattern and a predicate."""

    id: str
    match: str
    points: Points
    valid_for: ValidFor | None = None
    decay: Literal["step", "linear"] = "step"
    cap: Number | None = Field(default=None, ge=0)
    when: str | None = None
    cleared_by: tuple[str, ...] = ()
    veto: str | None = None
    grade: str | None = None
    """A subject with a counting record gets this grade in place of its score's grade."""
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "rule id")

    @field_validator("match")
    @classmethod
    def _match(cls, value: str) -> str:
        if value == "*":
            return value
        body = value[:-2] if value.endswith(".*") else value
        if not body or "*" in body or any(c.isspace() for c in body):
            raise ValueError(f"match must be an exact code, 'prefix.*' or '*' (got {value!r})")
        return value

    @field_validator("valid_for")
    @classmethod
    def _valid_for(cls, value: str | TermFrom | None) -> str | TermFrom | None:
        if isinstance(value, str):
            parse_duration(value)  # "0d" is allowed: no record is young enough to count
        return value

    @field_validator("when")
    @classmethod
    def _when(cls, value: str | None) -> str | None:
        if value is not None:
            parse_predicate(value)
        return value

    @model_validator(mode="after")
    def _linear_needs_valid_for(self) -> Rule:
        if self.decay == "linear" and self.valid_for is None:
            raise ValueError("decay = 'linear' needs valid_for")
        if self.grade is not None and self.veto is not None:
            raise ValueError("a rule either assigns a grade or vetoes one, not both")
        return self

    @property
    def longest_term(self) -> Term | None:
        """The longest term a record can get under ``valid_for`` (a term read from the record:
        its ``max``); None without ``valid_for``."""
        if isinstance(self.valid_for, TermFrom):
            return self.valid_for.longest
        return None if self.valid_for is None else parse_term(self.valid_for)

    @property
    def valid_days(self) -> int | None:
        """:attr:`longest_term` in the catalog's fixed days (``m`` 30, ``y`` 365): to compare
        with the catalog's periods; scoring reads :meth:`term_for`."""
        longest = self.longest_term
        return None if longest is None else longest.nominal_days

    @property
    def valid_for_text(self) -> str | None:
        """``valid_for`` as a person reads it in a message."""
        if isinstance(self.valid_for, TermFrom):
            return self.valid_for.text
        return self.valid_for

    def term_for(self, attrs: Mapping[str, object]) -> Term | None:
        """The legal term of a record with these attributes: days, or calendar months and
        years; None without ``valid_for`` (it counts for ever)."""
        if isinstance(self.valid_for, TermFrom):
            return self.valid_for.term(attrs)
        return None if self.valid_for is None else parse_term(self.valid_for)

    @property
    def unit_points(self) -> float:
        """The points of one record, or of one unit of a record under ``points = {per ...}``:
        its sign says whether the rule rewards or punishes."""
        return self.points.each if isinstance(self.points, PointsPer) else self.points

    @property
    def attributes_read(self) -> tuple[str, ...]:
        """Every attribute the rule reads: its predicate's, its points' and its term's."""
        names = [] if self.predicate is None else list(attribute_names(self.predicate))
        if isinstance(self.points, PointsPer):
            names.append(self.points.per)
        if isinstance(self.valid_for, TermFrom):
            names.append(self.valid_for.attr)
        return tuple(dict.fromkeys(names))

    @property
    def predicate(self) -> Node | None:
        """The parsed ``when`` predicate."""
        return None if self.when is None else parse_predicate(self.when)

    def matches(self, code: str) -> bool:
        """Whether ``code`` matches this rule's pattern."""
        if self.match == "*":
            return True
        if self.match.endswith(".*"):
            return code.startswith(self.match[:-1])
        return code == self.match


PublishedField = Literal[
    "sex", "age", "obligation", "circumstances", "court", "legal_representative"
]
"""The fields of a public list entry a list may publish: a person's sex and age (read from the
resident ID), the obligation, circumstances and court of the records behind the entry, an
organisation's legal representative (from its relation records)."""


class ListDef(_Frozen):
    """A red or black list: members by grade or by counting records of given rules."""

    id: str
    kind: Literal["black", "red"]
    grades: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    disclose: Flag = False
    publish: tuple[PublishedField, ...] = ()
    """What a public entry shows besides the masked name and id (the court list's Art. 6)."""
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "list id")

    @field_validator("publish")
    @classmethod
    def _publish(cls, value: tuple[PublishedField, ...]) -> tuple[PublishedField, ...]:
        return tuple(dict.fromkeys(value))


class Measure(_Frozen):
    """A joint reward or punishment for list members or grades."""

    id: str
    kind: Literal["sanction", "reward"]
    lists: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    description: str = ""
    basis: str | None = None
    extends_to: tuple[Role, ...] = ()
    """Roles in an organisation the measure applies to (the SPC's restrictions bind a listed
    organisation's legal representative, principal persons in charge and actual controller):
    a person holding one of them in an organisation the measure applies to is subject to it
    too (:mod:`xinyong.decisions.related`)."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "measure id")

    @field_validator("extends_to")
    @classmethod
    def _roles(cls, value: tuple[Role, ...]) -> tuple[Role, ...]:
        return tuple(dict.fromkeys(value))


def _duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


class Safeguards(_Frozen):
    """Discounts applied to ratings before any peer algorithm sees them; each is off when its
    period or size is unset (``docs/schemes.md``, section 10)."""

    retaliation_window: str | None = None
    """A low rating given less than this after a low rating from the same person is
    presumed retaliation."""
    retaliation_stars: int = Field(default=2, ge=1, le=4, strict=True)
    """Ratings of at most this many stars are *low*."""
    retaliation_weight: Share = 0.0
    collusion_size: int | None = Field(default=None, ge=3, le=50, strict=True)
    """Mutual 5-star pairs sharing at least ``collusion_size - 2`` mutual 5-star partners (every
    pair in a clique of this size does) are presumed collusion."""
    collusion_weight: Share = 0.0
    newcomer_period: str | None = None
    """Ratings given less than this after the rater's first interaction are damped."""
    newcomer_weight: Share = 0.25

    @field_validator("retaliation_window", "newcomer_period")
    @classmethod
    def _periods(cls, value: str | None) -> str | None:
        return _duration(value)

    @property
    def retaliation_days(self) -> int | None:
        """``retaliation_window`` in days."""
        return None if self.retaliation_window is None else parse_duration(self.retaliation_window)

    @property
    def newcomer_days(self) -> int | None:
        """``newcomer_period`` in days."""
        return None if self.newcomer_period is None else parse_duration(self.newcomer_period)


class PeerSection(_Frozen):
    """How a peer score (0 to 5) is computed from ratings and how much it adds to the score."""

    algorithm: Literal["nosedive", "bayesian", "eigentrust"]
    weight: PointsNumber = 1.0
    """Points added to the score per star of peer score."""
    valid_for: str | None = None
    decay: Literal["step", "linear"] = "step"
    prior: Number = Field(default=3.0, ge=0, le=5)
    """The score of a subject nobody rated, and the mean the smoothing pulls towards."""
    min_ratings: Number = Field(default=0.0, ge=0)
    """The weight of the prior, in ratings (the Bayesian average's ``m``)."""
    seeds: tuple[str, ...] = ()
    """Pre-trusted subjects (``eigentrust``)."""
    damping: Number = Field(default=0.15, gt=0, lt=1)
    """The share of trust that flows back to the seeds on every step (``eigentrust``)."""
    tolerance: Number = Field(default=1e-6, gt=0)
    max_iterations: int = Field(default=200, ge=1, le=10_000, strict=True)
    safeguards: Safeguards = Safeguards()

    @field_validator("valid_for")
    @classmethod
    def _valid_for(cls, value: str | None) -> str | None:
        return _duration(value)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not seed.strip() for seed in value):
            raise ValueError("seeds must be subject ids, not empty strings")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _consistent(self) -> PeerSection:
        if self.decay == "linear" and self.valid_for is None:
            raise ValueError("decay = 'linear' needs valid_for")
        if self.seeds and self.algorithm != "eigentrust":
            raise ValueError("seeds apply to algorithm = 'eigentrust' only")
        return self

    @property
    def valid_days(self) -> int | None:
        """``valid_for`` in days."""
        return None if self.valid_for is None else parse_duration(self.valid_for)


class Eligibility(_Frozen):
    """Who a scheme may score at all (``[eligibility]``): an ineligible subject gets no score,
    grade, list or measure under it (:mod:`xinyong.schemes.eligibility`)."""

    min_age: int | None = Field(default=None, ge=1, le=150, strict=True)
    """Persons only: full years on the as-of date, read from the resident ID's birth date; a
    person whose age cannot be read (no resident ID) is not eligible."""
    consent: Literal["required", "not-required"] = "not-required"
    """``required``: only subjects whose latest consent record (``consent.given`` or
    ``consent.withdrawn``) on or before the as-of date gives consent are scored."""


class Scheme(_Frozen):
    """A whole pilot scheme."""

    id: str
    name: str
    description: str = ""
    subject_kinds: tuple[SubjectKindName, ...] = ("person", "organization")
    base: Number
    floor: Number | None = None
    ceiling: Number | None = None
    grades: tuple[Grade, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()
    lists: tuple[ListDef, ...] = ()
    measures: tuple[Measure, ...] = ()
    objection_days: int | None = Field(default=None, ge=1, le=365)
    """Days an operator has to decide an objection to a record this scheme's rules match (the
    court list: 15); the service's setting applies when no active scheme sets it."""
    peer: PeerSection | None = None
    """The peer score and its weight; None: ratings do not count."""
    eligibility: Eligibility | None = None
    """Who may be scored; None: every subject of ``subject_kinds``."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if len(value) > 64:  # the ledger keeps scheme ids in 64 characters
            raise ValueError("scheme id is longer than 64 characters")
        return _check_id(value, "scheme id")

    @field_validator("subject_kinds")
    @classmethod
    def _kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("subject_kinds must name at least one kind")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _bounds(self) -> Scheme:
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise ValueError("floor is above ceiling")
        if all(grade.assigned for grade in self.grades):
            raise ValueError("at least one grade must be reached by score (not assigned)")
        return self

    def grade_index(self, name: str) -> int:
        """Position of a grade, 0 for the best."""
        return [g.name for g in self.grades].index(name)

    @property
    def scored_grades(self) -> tuple[int, ...]:
        """Indexes of the grades a score can reach (every grade but the ``assigned`` ones)."""
        return tuple(i for i, grade in enumerate(self.grades) if not grade.assigned)

    @property
    def lowest_scored_grade(self) -> int:
        """The grade of a score below every ``min``: the last grade that is not ``assigned``."""
        return self.scored_grades[-1]

    def grade_for(self, score: float) -> int:
        """Index of the first scored grade whose ``min <= score`` (the last scored grade
        otherwise)."""
        for index in self.scored_grades:
            grade = self.grades[index]
            if grade.min is not None and grade.min <= score:
                return index
        return self.lowest_scored_grade
