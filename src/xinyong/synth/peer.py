"""Synthetic star ratings: some people meet and rate each other in the window's last weeks.

Nosedive's ratings are fiction (catalog codes ``peer.*``), so these numbers are assumptions, set
so that the bundled ``nosedive-gate`` pilot has something to decide: without ratings everyone
sits at its prior and boards.

* :data:`PEER_SHARE` of the adults take part, and the town's three founding accounts
  (:data:`SEED_ACCOUNTS`, the pilot's pre-trusted EigenTrust seeds, added to the population as
  people without a resident ID) meet :data:`SEED_MEETINGS` participants each.
* In the last :data:`PEER_DAYS` days each participant meets :data:`MEETINGS_PER_PERSON`
  others on average (Poisson), partners drawn at random among participants; both rate the
  other on the day of the meeting.
* Stars: ``round(clip(quality + N(0, STAR_NOISE), 1, 5))``, the rated person's ``quality``
  being ``QUALITY_MEAN - QUALITY_RISK x (risk - 1)`` with the latent risk of the conduct model,
  so people with more negative records tend to be rated lower; the founding accounts rate as
  anyone does and are rated :data:`QUALITY_MEAN`.

The records have the ledger's format (``xinyong.domain.peer_records``): two
``peer.interaction`` records per meeting, each naming the other party, then a ``peer.rating``
record about each party naming the rater, all sharing the meeting's id as ``case_id``, so that
ingest admits every rating (the interactions come first in the file).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.synth.population import Population

__all__ = [
    "MEETINGS_PER_PERSON",
    "PEER_DAYS",
    "PEER_SHARE",
    "SEED_ACCOUNTS",
    "SEED_MEETINGS",
    "SEED_NAMES",
    "Meetings",
    "draw_meetings",
    "meeting_ids",
]

SEED_ACCOUNTS = ("town-01", "town-02", "town-03")
"""The town's founding accounts: the ``seeds`` of the bundled nosedive-gate pilot."""
SEED_NAMES = ("Town account 1", "Town account 2", "Town account 3")
PEER_SHARE = 0.25
"""Assumption: the share of adults who use the rating app."""
PEER_DAYS = 28
"""Ratings fall in the window's last four weeks (the pilot counts thirty days)."""
MEETINGS_PER_PERSON = 14.0
"""Assumption: meetings per participant in those weeks (the pilot needs 10 ratings)."""
SEED_MEETINGS = 80
"""Assumption: meetings of each founding account."""
QUALITY_MEAN = 4.4
QUALITY_RISK = 0.35
STAR_NOISE = 0.7


class Meetings:
    """Who met whom on which day, and the stars each gave the other."""

    def __init__(
        self,
        first: npt.NDArray[np.int64],
        second: npt.NDArray[np.int64],
        day: npt.NDArray[np.int32],
        stars_for_first: npt.NDArray[np.int64],
        stars_for_second: npt.NDArray[np.int64],
    ) -> None:
        self.first, self.second, self.day = first, second, day
        self.stars_for_first, self.stars_for_second = stars_for_first, stars_for_second

    def __len__(self) -> int:
        return len(self.day)


def draw_meetings(
    rng: np.random.Generator, population: Population, seeds: npt.NDArray[np.int64], last_day: int
) -> Meetings:
    """Meetings among a :data:`PEER_SHARE` of the adults (adult on ``last_day``) and the
    founding accounts at ``seeds`` (population positions), in the ``PEER_DAYS`` days up to
    ``last_day`` (a day number)."""
    people = np.setdiff1d(np.arange(population.people, dtype=np.int64), seeds)
    adult = people[population.adult_from[people] <= last_day - PEER_DAYS]
    users = adult[rng.random(adult.size) < PEER_SHARE]
    if users.size < 2:
        empty = np.empty(0, np.int64)
        return Meetings(empty, empty, np.empty(0, np.int32), empty, empty)
    count = int(rng.poisson(users.size * MEETINGS_PER_PERSON / 2))
    first = users[rng.integers(0, users.size, size=count)]
    shift = rng.integers(1, users.size, size=count)
    second = users[(np.searchsorted(users, first) + shift) % users.size]  # never oneself
    by_seed = np.repeat(seeds, SEED_MEETINGS)
    first = np.concatenate([by_seed, first])
    second = np.concatenate([users[rng.integers(0, users.size, size=by_seed.size)], second])
    day = (last_day - rng.integers(0, PEER_DAYS, size=first.size)).astype(np.int32)
    quality = QUALITY_MEAN - QUALITY_RISK * (population.risk - 1.0)
    quality[seeds] = QUALITY_MEAN
    noise = rng.normal(0.0, STAR_NOISE, size=(2, first.size))

    def stars(
        rated: npt.NDArray[np.int64], wobble: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        return np.rint(np.clip(quality[rated] + wobble, 1, 5)).astype(np.int64)

    return Meetings(first, second, day, stars(first, noise[0]), stars(second, noise[1]))


def meeting_ids(prefix: str, count: int) -> pa.Array:
    """``PREFIX-NNNNNNNN``, one id per meeting."""
    serial = pa.array(np.arange(1, count + 1, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(serial, 8, "0"), "-")
