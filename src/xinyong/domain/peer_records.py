"""Interaction and rating records: the codes, and what makes one such row well formed.

An interaction between A and B is furnished as two ``peer.interaction`` records with the same
``case_id`` (the interaction id): one about A with ``attrs.counterpart = B``, one about B with
``attrs.counterpart = A``. A rating of B by A is a ``peer.rating`` record about B (the rated),
with ``attrs.rater = A``, ``attrs.stars`` 1 to 5 and the interaction id as ``case_id``.
"""

from __future__ import annotations

from typing import Any

from xinyong.domain.row_problem import RowProblem

__all__ = ["INTERACTION", "PEER_CODES", "RATING", "peer_row_problem", "rating_stars"]

INTERACTION = "peer.interaction"
RATING = "peer.rating"
PEER_CODES = (INTERACTION, RATING)


def rating_stars(value: object) -> float | None:
    """The stars of a rating's ``attrs.stars`` when they are a number from 1 to 5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 1 <= value <= 5 else None


def peer_row_problem(
    code: str, subject_id: str, case_id: str | None, attrs: Any
) -> RowProblem | None:
    """What is wrong with one interaction or rating row on its own, if anything."""
    if code not in PEER_CODES:
        return None
    if not case_id:
        return RowProblem("case_id", "missing: the interaction id goes in case_id")
    other = "counterpart" if code == INTERACTION else "rater"
    value = attrs.get(other) if isinstance(attrs, dict) else None
    if not isinstance(value, str) or not value.strip():
        return RowProblem(f"attrs.{other}", "missing: the other person's subject id")
    if value == subject_id:
        return RowProblem(f"attrs.{other}", f"names the record's own subject {subject_id!r}")
    if code == RATING:
        stars = attrs.get("stars")
        if (
            isinstance(stars, bool)
            or not isinstance(stars, int | float)
            or stars not in range(1, 6)
        ):
            return RowProblem("attrs.stars", f"must be a whole number from 1 to 5, got {stars!r}")
    return None
