"""Star ratings in a simulated society: who meets whom, and how they rate each other.

Each step, people meet in pairs (``interactions_per_month`` per person, partners drawn at
random); after each interaction both rate each other, as in "Nosedive". How many stars A gives B:

    stars = round(clip((1 - herding) * (quality_B + noise) + herding * visible_B
                       - stigma_penalty * [visible_B < stigma_threshold], 1, 5))

``quality_B`` is B's latent conduct (fixed per person, drawn with the world, less
``bad_day_drop`` in a step where B has a bad day, with probability ``bad_day_rate``), ``noise``
a normal draw with sd ``rating_noise``, and ``visible_B`` B's current peer score under this
arm's scheme. With ``herding`` above 0 raters lean toward what everyone can already see, and
below ``stigma_threshold`` they mark the person down: the feedback loop that lets a score "go
haywire" after one bad day. Who meets whom, when, and the noise are the same in every
arm (drawn from the world's key and the step); only the visible scores, and so the stars, differ.

The records have the ledger's format (``docs/schemes.md`` section 10): two ``peer.interaction``
records per meeting, one about each party naming the other, and a ``peer.rating`` record about
the rated person with the rater and the stars, sharing the meeting's id as ``case_id``.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.peer_records import INTERACTION, RATING
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.lab.behaviour import Behaviour
from xinyong.lab.world import EPOCH, World

__all__ = ["Society"]

_SOURCE = "lab-peer"


class Society:
    """The rating records of one arm, accumulated step by step."""

    def __init__(self, world: World, behaviour: Behaviour) -> None:
        self.world = world
        self.behaviour = behaviour
        self._steps: list[tuple[int, pa.Table]] = []
        self.bad_day = np.zeros(world.population.size, np.bool_)
        """Who had a bad day in the last step (their own conduct, not others')."""

    def step(self, t: int, visible: npt.NDArray[np.float64]) -> None:
        """Meetings and ratings of step ``t``, given the scores everyone sees now."""
        world, b = self.world, self.behaviour
        people = world.population.people
        rng = np.random.default_rng([world.key, t, 0x7EE2])
        meetings = int(rng.poisson(people * b.interactions_per_month * world.step_days / 30 / 2))
        a = rng.integers(0, people, size=meetings)
        other = rng.integers(1, max(people, 2), size=meetings)
        partner = (a + other) % people  # never oneself
        first = (world.start - EPOCH).days + t * world.step_days
        day = first + rng.integers(0, world.step_days, size=meetings)
        noise = rng.normal(0.0, b.rating_noise, size=(2, meetings))
        p_bad = 1.0 - (1.0 - b.bad_day_rate) ** (world.step_days / 30.0)
        self.bad_day = np.zeros(world.population.size, np.bool_)
        self.bad_day[:people] = rng.random(people) < p_bad
        quality = world.peer_quality - b.bad_day_drop * self.bad_day
        raters = np.concatenate([a, partner])
        rated = np.concatenate([partner, a])
        wobble = np.concatenate([noise[0], noise[1]])
        h = b.herding
        stars = np.rint(
            np.clip(
                (1 - h) * (quality[rated] + wobble)
                + h * visible[rated]
                - b.stigma_penalty * (visible[rated] < b.stigma_threshold),
                1,
                5,
            )
        ).astype(np.int64)
        self._steps.append((t, self._records(t, a, partner, day, raters, rated, stars)))

    def records(self, t: int, keep_days: int) -> pa.Table:
        """The rating records of the last ``keep_days`` days up to the end of step ``t``."""
        as_of = self.world.as_of(t)
        oldest = as_of - timedelta(days=keep_days)
        first_kept = max(0, (oldest - self.world.start).days // self.world.step_days)
        self._steps = [(s, table) for s, table in self._steps if s >= first_kept]
        tables = [table for s, table in self._steps if s <= t]
        if not tables:
            return RECORDS_SCHEMA.empty_table()
        return pa.concat_tables(tables)

    def _records(
        self,
        t: int,
        a: npt.NDArray[np.int64],
        partner: npt.NDArray[np.int64],
        day: npt.NDArray[np.int64],
        raters: npt.NDArray[np.int64],
        rated: npt.NDArray[np.int64],
        stars: npt.NDArray[np.int64],
    ) -> pa.Table:
        ids = self.world.population.subject_id
        meeting = pc.binary_join_element_wise(
            f"lab-{t}-", pa.array(np.arange(len(a))).cast(pa.string()), ""
        )
        meeting2 = pa.concat_arrays([meeting, meeting])
        rater_id = ids.take(pa.array(raters))
        interaction_about = np.concatenate([a, partner])
        interaction_with = np.concatenate([partner, a])
        counterpart = ids.take(pa.array(interaction_with))
        interaction_attrs = pc.binary_join_element_wise('{"counterpart": "', counterpart, '"}', "")
        rating_attrs = pc.binary_join_element_wise(
            '{"rater": "',
            rater_id,
            '", "stars": ',
            pa.array(stars).cast(pa.string()),
            "}",
            "",
        )
        days = pa.array(np.concatenate([day, day]).astype(np.int32)).cast(pa.date32())
        n = 2 * len(a)
        suffix = pa.array(np.arange(n)).cast(pa.string())
        interactions = pa.table(
            [
                pc.binary_join_element_wise(f"i{t}-", suffix, ""),
                pa.array([_SOURCE] * n, pa.string()),
                ids.take(pa.array(interaction_about)),
                pa.array(["person"] * n, pa.string()),
                pa.array([INTERACTION] * n, pa.string()),
                days,
                meeting2,
                interaction_attrs,
            ],
            schema=RECORDS_SCHEMA,
        )
        ratings = pa.table(
            [
                pc.binary_join_element_wise(f"r{t}-", suffix, ""),
                pa.array([_SOURCE] * n, pa.string()),
                ids.take(pa.array(rated)),
                pa.array(["person"] * n, pa.string()),
                pa.array([RATING] * n, pa.string()),
                days,
                meeting2,
                rating_attrs,
            ],
            schema=RECORDS_SCHEMA,
        )
        return pa.concat_tables([interactions, ratings])
