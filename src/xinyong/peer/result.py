"""What a peer algorithm says about one subject: the score and every rating behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["PeerScore", "RatingEffect", "smoothed_mean"]


@dataclass(frozen=True, slots=True)
class RatingEffect:
    """One rating a subject received, and how much it weighed.

    ``weight = decay × safeguard × rater_weight``: the rating's age, the safeguards' discounts
    (``reasons`` says which and why) and the weight the algorithm gives the rater.
    """

    record: str
    rater: str
    stars: float
    occurred_at: date
    age_days: int
    decay: float
    safeguard: float
    rater_weight: float
    weight: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PeerScore:
    """A subject's peer score (0 to 5) and how it came about.

    ``score = (min_ratings × prior + Σ weight × stars) / (min_ratings + Σ weight)``, or
    ``prior`` when both sums are 0 (nobody rated the subject, or every rating weighs nothing).
    """

    subject_id: str
    algorithm: str
    score: float
    prior: float
    min_ratings: float
    ratings: tuple[RatingEffect, ...] = ()
    iterations: int = 0
    converged: bool = True

    @classmethod
    def unrated(
        cls, subject_id: str, algorithm: str, prior: float, min_ratings: float
    ) -> PeerScore:
        """The score of a subject with no counting rating: the prior."""
        return cls(subject_id, algorithm, prior, prior, min_ratings)


def smoothed_mean(prior: float, min_ratings: float, weight: float, weighted_stars: float) -> float:
    """``(m × prior + Σ w × stars) / (m + Σ w)``, the prior when the denominator is 0."""
    denominator = min_ratings + weight
    if denominator <= 0:
        return prior
    return (min_ratings * prior + weighted_stars) / denominator
