"""Which rating records count for a peer score at a date.

The records themselves (codes, fields) are described in :mod:`xinyong.domain.peer_records`.
A rating *counts* at an as-of date ``t`` (``docs/schemes.md`` section 10) when it is of a kind
the scheme scores, ``occurred_at <= t``, its age is below the section's ``valid_for`` (if set),
it names a rater other than the rated subject and its stars are a number from 1 to 5. A
subject's *first interaction* is the date of its earliest ``peer.interaction`` record on or
before ``t``: the start of its account for new-account damping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from xinyong.domain.peer_records import INTERACTION, RATING, rating_stars
from xinyong.domain.records import InputRecord
from xinyong.i18n import N_, Message
from xinyong.schemes.model import PeerSection

__all__ = ["Rating", "RatingSet", "SeedsAbsent", "considered_ratings", "seeds_absent"]


class SeedsAbsent(ValueError):
    """An ``eigentrust`` scheme whose seeds rated nobody in the ratings that count: trust would
    never leave them, every rater would weigh nothing and everyone would get the prior. An error
    when scoring, never a silent prior for everyone."""


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

    def check_seeds(self, seeds: tuple[str, ...], prior: float) -> None:
        """:class:`SeedsAbsent` when there are ratings and seeds, and no seed rated anyone."""
        if not seeds or not self.ratings:
            return
        if {r.rater for r in self.ratings}.isdisjoint(seeds):
            raise seeds_absent(seeds, len(self.ratings), self.as_of, prior)


def seeds_absent(seeds: Sequence[str], ratings: int, as_of: date, prior: float) -> SeedsAbsent:
    """The error for seeds of whom none rated anyone among ``ratings`` counting ratings (its
    message a :class:`Message`: English for the operator and the API, translated on a page)."""
    shown = ", ".join(seeds[:5]) + (", ..." if len(seeds) > 5 else "")
    return SeedsAbsent(
        Message(
            N_(
                "none of the peer seeds (%(seeds)s) rated anyone in the %(ratings)s ratings "
                "that count on %(day)s: trust would never reach a rater and everyone would get "
                "the prior %(prior)s; name seeds who take part"
            ),
            seeds=shown,
            ratings=ratings,
            day=as_of,
            prior=f"{prior:g}",
        )
    )


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
