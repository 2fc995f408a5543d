"""Raters as the rated subject sees them: pseudonyms, never subject ids.

A rating is a record about the rated subject, so it belongs in their file; who gave it does
not. A rater's id tells the rated person whom to retaliate against, and under ``nosedive`` the
rater's weight is the rater's own score. The subject's own file (``GET /v1/me``, ``/me``) and a
subject's replay of a decision about them therefore name raters ``rater 1``, ``rater 2``... in
the order they first appear in that answer, and leave out the interaction a rating belongs to
(its ``case_id``, which the subject's own interaction records would resolve to the rater).
Operators and ``xinyong explain`` keep the full detail (``docs/schemes.md`` section 10).
"""

from __future__ import annotations

__all__ = ["RaterLabels"]


class RaterLabels:
    """Pseudonyms for raters within one answer: the same rater always gets the same label."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def label(self, rater: str) -> str:
        """``rater N``: N counts the distinct raters seen so far, this one included."""
        found = self._labels.get(rater)
        if found is None:
            found = self._labels[rater] = f"rater {len(self._labels) + 1}"
        return found
