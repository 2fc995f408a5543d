"""Rating and interaction records, and which ratings count for a peer score at a date.

An interaction between A and B is furnished as two ``peer.interaction`` records with the same
``case_id`` (the interaction id): one about A with ``attrs.counterpart = B``, one about B with
``attrs.counterpart = A``. A rating of B by A is a ``peer.rating`` record about B (the rated),
with ``attrs.rater = A``, ``attrs.stars`` 1 to 5 and the interaction id as ``case_id``.

A rating *counts* at an as-of date ``t`` (``docs/schemes.md`` section 10) when it is of a kind
the scheme scores, ``occurred_at <= t``, its age is below the section's ``valid_for`` (if set),
it names a rater other than the rated subject and its stars are a number from 1 to 5. A
subject's *first interaction* is the date of its earliest ``peer.interaction`` record on or
before ``t``: the start of its account for new-account damping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from xinyong.schemes.model import PeerSection
from xinyong.scoring.standing import InputRecord

__all__ = [
    "INTERACTION",
    "PEER_CODES",
    "RATING",
    "Rating",
    "RatingSet",
    "considered_ratings",
    "peer_row_problem",
    "rating_stars",
]

INTERACTION = "peer.interaction"
RATING = "peer.rating"
PEER_CODES = (INTERACTION, RATING)


@dataclass(frozen=True, slots=True)
class Rating:
    """One counting rating: who rated whom, how, when, and its decay factor at the as-of date."""

    key: str
    rater: str
    rated: str
    stars: float
    occurred_at: date
    age_days: int
    decay: float


@dataclass(frozen=True, slots=True)
class RatingSet:
    """The ratings that count at a date, and each subject's first interaction."""

    ratings: tuple[Rating, ...]
    first_interaction: dict[str, date]
    as_of: date


def rating_stars(value: object) -> float | None:
    """The stars of a rating's ``attrs.stars`` when they are a number from 1 to 5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 1 <= value <= 5 else None


def peer_row_problem(
    code: str, subject_id: str, case_id: str | None, attrs: Any
) -> tuple[str, str] | None:
    """``(field, reason)`` for what is wrong with one interaction or rating row on its own."""
    if code not in (INTERACTION, RATING):
        return None
    if not case_id:
        return ("case_id", "missing: the interaction id goes in case_id")
    other = "counterpart" if code == INTERACTION else "rater"
    value = attrs.get(other) if isinstance(attrs, dict) else None
    if not isinstance(value, str) or not value.strip():
        return (f"attrs.{other}", "missing: the other person's subject id")
    if value == subject_id:
        return (f"attrs.{other}", f"names the record's own subject {subject_id!r}")
    if code == RATING:
        stars = attrs.get("stars")
        if (
            isinstance(stars, bool)
            or not isinstance(stars, int | float)
            or stars not in range(1, 6)
        ):
            return ("attrs.stars", f"must be a whole number from 1 to 5, got {stars!r}")
    return None


def considered_ratings(
    section: PeerSection,
    records: Iterable[InputRecord],
    kinds: tuple[str, ...],
    as_of: date,
) -> RatingSet:
    """The ratings that count at ``as_of`` under ``section``, in input order."""
    valid = section.valid_days
    ratings: list[Rating] = []
    first: dict[str, date] = {}
    for record in records:
        if record.subject_kind not in kinds or record.occurred_at > as_of:
            continue
        if record.code == INTERACTION:
            seen = first.get(record.subject_id)
            if seen is None or record.occurred_at < seen:
                first[record.subject_id] = record.occurred_at
            continue
        if record.code != RATING:
            continue
        age = (as_of - record.occurred_at).days
        rater = record.attrs.get("rater")
        stars = rating_stars(record.attrs.get("stars"))
        if valid is not None and age >= valid:
            continue
        if not isinstance(rater, str) or not rater or rater == record.subject_id or stars is None:
            continue
        decay = 1.0 - age / valid if section.decay == "linear" and valid else 1.0
        ratings.append(
            Rating(record.key, rater, record.subject_id, stars, record.occurred_at, age, decay)
        )
    return RatingSet(tuple(ratings), first, as_of)
