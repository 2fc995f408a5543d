"""What scoring produces: a subject's standing, and the records and rules behind it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from xinyong.domain.records import InputRecord

__all__ = ["CountedRecord", "RuleResult", "Standing", "round_score"]


def round_score(value: float) -> float:
    """Round to 2 decimals as Python's ``round(value, 2)`` does: the exact binary value of the
    double, ties to even (2.675 is stored as 2.67499... and rounds to 2.67; 0.125 to 0.12).

    The compiled engines reproduce this bit for bit (``schemes/compile.py``), so a score next to
    a grade threshold gets the same grade everywhere.
    """
    result = round(value, 2)
    return 0.0 if result == 0 else result  # no "-0.0" in output


@dataclass(frozen=True, slots=True)
class CountedRecord:
    """One record seen by one rule, and whether and how much it counted."""

    record: InputRecord
    rule_id: str
    counted: bool
    age_days: int
    factor: float = 0.0
    contribution: float = 0.0
    reason: str = ""
    """Why it did not count: ``expired``, ``cleared by ...``, ``predicate false``..."""
    term: str = ""
    """The record's term under the rule (``2y``; read from the record under
    ``valid_for = {attr ...}``); empty: it counts for ever."""
    ends_on: date | None = None
    """The first day the term no longer covers (None: never)."""
    units: float | None = None
    """Under ``points = {per ...}``: the units the record's attribute gave."""


@dataclass(frozen=True, slots=True)
class RuleResult:
    """A rule's total for one subject."""

    rule_id: str
    count: int
    raw_total: float
    total: float
    capped: bool


@dataclass(frozen=True, slots=True)
class Standing:
    """A subject's result under one scheme as of one date."""

    subject_id: str
    score: float
    grade: str
    lists: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()

    def row(self) -> dict[str, object]:
        """The output row: lists and measures as sorted ids joined by ``;``."""
        return {
            "subject_id": self.subject_id,
            "score": self.score,
            "grade": self.grade,
            "lists": ";".join(self.lists),
            "measures": ";".join(self.measures),
        }

    def same_as(self, other: Standing, tolerance: float = 0.01) -> bool:
        """Equal up to ``tolerance`` on the score."""
        return (
            self.subject_id == other.subject_id
            and math.isclose(self.score, other.score, abs_tol=tolerance)
            and (self.grade, self.lists, self.measures)
            == (other.grade, other.lists, other.measures)
        )
