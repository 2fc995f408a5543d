"""Star ratings in a simulated society: who meets whom, and how they rate each other.

**Who meets whom.** Everyone has a circle of ``friends``: their neighbours in a small-world graph
(Watts and Strogatz 1998: a ring where each person knows the ``friends`` nearest, with a share
``rewire`` of the ties moved to a random person), drawn once per world. Each step people meet
in pairs (``interactions_per_month`` per person): with probability ``circle_share`` the partner
is a random friend (repeated partners, so that reputation travels along the circle), otherwise
a stranger drawn at random. Status-seeking: a meeting with someone whose visible score is below
``status_line`` is avoided with probability ``status_avoidance`` (by either party).

**How they rate.** After each meeting both rate each other, as in "Nosedive". A's stars for B:

    stars = round(clip((1 - herding) * (quality_B + noise) + herding * visible_B
                       - stigma_penalty * [visible_B < stigma_threshold]
                       - bad_mood_drop * [A has a bad day], 1, 5))

``quality_B`` is B's latent conduct (drawn with the world, less ``bad_day_drop`` in a step where
B has a bad day, with probability ``bad_day_rate``), ``noise`` a normal draw with sd
``rating_noise`` and ``visible_B`` B's current peer score under this arm's scheme.

**Retaliation, collusion, sybils.**

- A person rated 2 stars or less rates the rater back 1 star with probability
  ``retaliation_rate``, 1 to ``retaliation_days`` days later, in a meeting of its own; a
  retaliation may itself be answered the same way in the next step (a feud).
- ``collusion_rings`` groups of ``ring_size`` people (the first includes the *target*) meet
  every step, each pair once, and rate each other 5 stars.
- ``sybils`` fake accounts, created ``sybil_delay_days`` after the start, meet the target every
  step and rate it 1 star (``sybil_goal = "sink"``) or 5 (``"boost"``); each also rates the next
  fake account 5 stars and is rated 5 back, so that they look established.

The *target* is the person (never a pre-trusted stand-in) whose latent quality is nearest the
``target_quantile`` quantile.

**Common random numbers.** Who meets whom, when, the noise, the bad days and the draws that
decide avoidance and retaliation come from the world's key and the step, the same in every arm;
only what raters see (and so the stars, and what follows from them) differs. A *counterfactual*
society (``shocks=False``) draws the same numbers but has no bad days, no collusion rings and no
fake accounts: the run that tells wrongful gate denials, and what an attack did, apart.

**Two forms of the same ratings.** :meth:`Society.records` gives them in the ledger's format
(``docs/schemes.md`` section 10: two ``peer.interaction`` records per meeting, one about each
party naming the other, and a ``peer.rating`` record about the rated person with the rater and
the stars, sharing the meeting's id as ``case_id``); :meth:`Society.graph` builds the rating
graph that :func:`xinyong.peer.graph.graph_from_table` would build from those records straight
from the arrays (a test checks the two agree, value for value), which spares converting
millions of records to Python objects every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.peer_records import INTERACTION, RATING
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.lab.behaviour import Behaviour
from xinyong.lab.world import EPOCH, World
from xinyong.peer.graph import RatingGraph
from xinyong.peer.ratings import seeds_absent
from xinyong.schemes.model import PeerSection

__all__ = ["Society", "small_world"]

_SOURCE = "lab-peer"
_LOW = 2
"""A rating of this many stars or fewer is low: it may be retaliated against."""
_RETALIATE, _RETALIATE_DAY = 5, 6
"""Streams of :meth:`World.uniform_for` for the retaliation draws."""

Ints = npt.NDArray[np.int64]


def small_world(people: int, friends: int, rewire: float, key: int) -> tuple[Ints, Ints]:
    """A Watts-Strogatz graph as adjacency lists: ``(start, neighbours)``, person ``i``'s
    friends being ``neighbours[start[i]:start[i + 1]]``.

    Each person is tied to the ``friends // 2`` next people around a ring (so to ``friends``
    neighbours, about); each tie's far end moves to a random other person with probability
    ``rewire``. Ties are undirected; a rewired tie may duplicate another (a closer friend).
    """
    if people < 2:
        return np.zeros(people + 1, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng([key, 0x5111])
    half = max(1, min(friends // 2, (people - 1) // 2 or 1))
    source = np.repeat(np.arange(people, dtype=np.int64), half)
    target = (source + np.tile(np.arange(1, half + 1, dtype=np.int64), people)) % people
    moved = rng.random(source.size) < rewire
    shift = rng.integers(1, people, size=source.size)
    target = np.where(moved, (source + shift) % people, target)
    ends = np.concatenate([source, target])
    others = np.concatenate([target, source])
    order = np.argsort(ends, kind="stable")
    start = np.zeros(people + 1, np.int64)
    np.cumsum(np.bincount(ends, minlength=people), out=start[1:])
    return start, others[order]


class _Part(NamedTuple):
    """Meetings (``a`` met ``partner`` on ``meeting_day``) and the ratings given in them
    (``meeting`` numbers each rating's meeting within the part)."""

    a: Ints
    partner: Ints
    meeting_day: Ints
    rater: Ints
    rated: Ints
    stars: Ints
    day: Ints
    meeting: Ints

    @classmethod
    def none(cls) -> _Part:
        empty = np.zeros(0, np.int64)
        return cls(*(empty,) * 8)

    @classmethod
    def mutual(cls, a: Ints, partner: Ints, day: Ints, stars: Ints) -> _Part:
        """Meetings in which both rate each other: ``a``'s ratings first, then the partners'
        (``stars`` in that order)."""
        rater, rated = _both_ways(a, partner)
        meeting = np.arange(a.size, dtype=np.int64)
        return cls(
            a, partner, day, rater, rated, stars, np.concatenate([day, day]),
            np.concatenate([meeting, meeting]),
        )  # fmt: skip

    @classmethod
    def join(cls, parts: list[_Part]) -> _Part:
        """The parts one after another, meeting numbers running on."""
        offsets = np.cumsum([0] + [p.a.size for p in parts])

        def joined(name: str) -> Ints:
            return np.concatenate([getattr(p, name) for p in parts])

        return cls(
            joined("a"),
            joined("partner"),
            joined("meeting_day"),
            joined("rater"),
            joined("rated"),
            joined("stars"),
            joined("day"),
            np.concatenate([p.meeting + o for p, o in zip(parts, offsets, strict=False)]),
        )


@dataclass(frozen=True, slots=True)
class _Step:
    """The meetings and ratings of one step, as arrays of node numbers (people first, then the
    fake accounts), in the order their records take in :meth:`Society.records`."""

    t: int
    about: Ints
    """Interaction records: the party each is about ..."""
    counterpart: Ints
    """... and the other party."""
    interaction_day: Ints
    interaction_case: Ints
    rater: Ints
    rated: Ints
    stars: Ints
    day: Ints
    case: Ints


class Society:
    """The rating records of one arm, accumulated step by step."""

    def __init__(self, world: World, behaviour: Behaviour, *, shocks: bool = True) -> None:
        self.world = world
        self.behaviour = behaviour
        self.shocks = shocks
        people = world.population.people
        self.people = people
        self._steps: list[_Step] = []
        self.bad_day = np.zeros(world.population.size, np.bool_)
        """Who had a bad day in the last step (their own conduct, not others')."""
        self.start, self.friends = small_world(
            people, behaviour.friends, behaviour.rewire, world.key
        )
        self.target = _target(world, behaviour)
        self.rings = _rings(world, behaviour, self.target) if shocks else np.zeros((0, 2), np.int64)
        sybils = behaviour.sybils
        self.ids = pa.concat_arrays(
            [
                world.population.subject_id,
                pa.array([f"lab-sybil-{k:06d}" for k in range(sybils)], pa.string()),
            ]
        )
        """Every node's subject id: the population, then the fake accounts."""
        self._rank = np.empty(len(self.ids), np.int64)
        self._rank[np.asarray(pc.sort_indices(self.ids).to_numpy())] = np.arange(len(self.ids))
        """Each node's place among the ids in sorted order (a rating graph's node order)."""
        self.nodes = np.zeros(0, np.int64)
        """The node numbers of the last :meth:`graph`, in its order."""
        self._pending = np.zeros((3, 0), np.int64)
        """Retaliations of the last step (retaliator, target, day): they may be answered."""

    # ------------------------------------------------------------------------------ a step

    def step(self, t: int, visible: npt.NDArray[np.float64]) -> None:
        """Meetings and ratings of step ``t``, given the scores everyone sees now."""
        world, b = self.world, self.behaviour
        people = self.people
        rng = np.random.default_rng([world.key, t, 0x7EE2])
        meetings = int(rng.poisson(people * b.interactions_per_month * world.step_days / 30 / 2))
        a = rng.integers(0, people, size=meetings)
        other = rng.integers(1, max(people, 2), size=meetings)
        first = (world.start - EPOCH).days + t * world.step_days
        day = first + rng.integers(0, world.step_days, size=meetings)
        noise = rng.normal(0.0, b.rating_noise, size=(2, meetings))
        p_bad = 1.0 - (1.0 - b.bad_day_rate) ** (world.step_days / 30.0)
        bad = rng.random(people) < p_bad
        in_circle = rng.random(meetings) < b.circle_share
        pick = rng.random(meetings)
        avoid = rng.random((2, meetings))
        self.bad_day = np.zeros(world.population.size, np.bool_)
        if self.shocks:
            self.bad_day[:people] = bad

        partner = (a + other) % people  # a stranger, never oneself
        degree = self.start[a + 1] - self.start[a]
        has = in_circle & (degree > 0)
        slot = self.start[a[has]] + (pick[has] * degree[has]).astype(np.int64)
        partner[has] = self.friends[slot]
        line, p_avoid = b.status_line, b.status_avoidance
        kept = ~(
            ((visible[partner] < line) & (avoid[0] < p_avoid))
            | ((visible[a] < line) & (avoid[1] < p_avoid))
        ) & (partner != a)
        a, partner, day, noise = a[kept], partner[kept], day[kept], noise[:, kept]

        quality = world.peer_quality - b.bad_day_drop * self.bad_day
        mood = b.bad_mood_drop * self.bad_day
        raters, rated = _both_ways(a, partner)
        wobble = np.concatenate([noise[0], noise[1]])
        h = b.herding
        stars = np.rint(
            np.clip(
                (1 - h) * (quality[rated] + wobble)
                + h * visible[rated]
                - b.stigma_penalty * (visible[rated] < b.stigma_threshold)
                - mood[raters],
                1,
                5,
            )
        ).astype(np.int64)
        parts = [
            _Part.mutual(a, partner, day, stars),
            self._ring_meetings(rng, first),
            self._sybil_meetings(rng, first),
        ]
        parts.append(self._retaliations(t, first, parts))
        self._steps.append(self._assemble(t, parts))

    def _ring_meetings(self, rng: np.random.Generator, first: int) -> _Part:
        """Every pair of every collusion ring meets and rates each other 5 stars."""
        if not self.rings.size:
            return _Part.none()
        size = self.rings.shape[1]
        i, j = np.triu_indices(size, k=1)
        a = self.rings[:, i].ravel()
        partner = self.rings[:, j].ravel()
        day = first + rng.integers(0, self.world.step_days, size=a.size)
        return _Part.mutual(a, partner, day, np.full(2 * a.size, 5, np.int64))

    def _sybil_meetings(self, rng: np.random.Generator, first: int) -> _Part:
        """The fake accounts' meetings with the target (only the fake account rates) and with
        the next fake account (both rate 5 stars), once they exist."""
        b, world = self.behaviour, self.world
        created = (world.start - EPOCH).days + b.sybil_delay_days
        if not self.shocks or not b.sybils or self.target < 0:
            return _Part.none()
        if first + world.step_days - 1 < created:
            return _Part.none()
        sybil = world.population.size + np.arange(b.sybils, dtype=np.int64)
        low = max(first, created)
        span = first + world.step_days - low
        attack_day = low + rng.integers(0, span, size=b.sybils)
        target = np.full(b.sybils, self.target, np.int64)
        stars = np.full(b.sybils, 1 if b.sybil_goal == "sink" else 5, np.int64)
        attack = _Part(
            sybil, target, attack_day, sybil, target, stars, attack_day, np.arange(b.sybils)
        )
        if b.sybils < 3:
            return attack
        ring_day = low + rng.integers(0, span, size=b.sybils)
        among = _Part.mutual(
            sybil, np.roll(sybil, -1), ring_day, np.full(2 * b.sybils, 5, np.int64)
        )
        return _Part.join([attack, among])

    def _retaliations(self, t: int, first: int, parts: list[_Part]) -> _Part:
        """People rated low (this step, or by a retaliation of the last) rate back 1 star."""
        b, world = self.behaviour, self.world
        if b.retaliation_rate <= 0:
            self._pending = np.zeros((3, 0), np.int64)
            return _Part.none()
        pending = self._pending
        raters = np.concatenate([p.rater for p in parts] + [pending[0]])
        rated = np.concatenate([p.rated for p in parts] + [pending[1]])
        stars = np.concatenate([p.stars for p in parts] + [np.ones(pending.shape[1], np.int64)])
        days = np.concatenate([p.day for p in parts] + [pending[2]])
        # The draws are keyed by the rating itself (who rated whom, which day), not by its place
        # in the step: an arm whose meetings differ elsewhere draws the same for the same rating.
        key = (rated * np.int64(len(self.ids)) + raters) * np.int64(4096) + days % 4096
        answer = (
            (stars <= _LOW)
            & (rated < self.people)
            & (world.uniform_for(key, t, _RETALIATE) < b.retaliation_rate)
        )
        draw = world.uniform_for(key[answer], t, _RETALIATE_DAY)
        later = 1 + (draw * b.retaliation_days).astype(np.int64)
        who, whom = rated[answer], raters[answer]
        day = np.maximum(days[answer], first) + later  # within this step or after it
        self._pending = np.stack([who, whom, day])
        one = np.ones(who.size, np.int64)
        return _Part(who, whom, day, who, whom, one, day, np.arange(who.size))

    def _assemble(self, t: int, parts: list[_Part]) -> _Step:
        """One step's arrays; meeting numbers run on across the parts."""
        part = _Part.join(parts)
        return _Step(
            t,
            np.concatenate([part.a, part.partner]),
            np.concatenate([part.partner, part.a]),
            np.concatenate([part.meeting_day, part.meeting_day]),
            np.concatenate([np.arange(part.a.size), np.arange(part.a.size)]),
            part.rater,
            part.rated,
            part.stars,
            part.day,
            part.meeting,
        )

    # ------------------------------------------------------------------------------ views

    def _window(self, t: int, keep_days: int) -> list[_Step]:
        """The steps whose records may count up to the end of step ``t`` (older ones dropped)."""
        as_of = self.world.as_of(t)
        oldest = as_of - timedelta(days=keep_days)
        # A retaliation may be dated up to retaliation_days after the end of its step.
        margin = -(-self.behaviour.retaliation_days // self.world.step_days)
        first_kept = max(0, (oldest - self.world.start).days // self.world.step_days - margin)
        self._steps = [s for s in self._steps if s.t >= first_kept]
        return [s for s in self._steps if s.t <= t]

    def contacts(self, t: int) -> tuple[Ints, Ints]:
        """``(rater, rated)`` of every rating of step ``t`` between people."""
        for s in self._steps:
            if s.t == t:
                people = (s.rater < self.people) & (s.rated < self.people)
                return s.rater[people], s.rated[people]
        return np.zeros(0, np.int64), np.zeros(0, np.int64)

    def records(self, t: int, keep_days: int) -> pa.Table:
        """The rating records of the last ``keep_days`` days up to the end of step ``t``, in the
        ledger's format."""
        tables = [self._records(s) for s in self._window(t, keep_days)]
        if not tables:
            return RECORDS_SCHEMA.empty_table()
        return pa.concat_tables(tables)

    def graph(
        self, section: PeerSection, t: int, keep_days: int, kinds: tuple[str, ...]
    ) -> RatingGraph:
        """The rating graph of :meth:`records` at the end of step ``t`` under ``section``: what
        :func:`~xinyong.peer.graph.graph_from_table` gives for those records (without record
        keys), built from the arrays."""
        as_of = self.world.as_of(t)
        as_of_day = (as_of - EPOCH).days
        steps = self._window(t, keep_days)
        if "person" not in kinds or not steps:
            steps = []
        rater = _cat([s.rater for s in steps])
        rated = _cat([s.rated for s in steps])
        stars = _cat([s.stars for s in steps])
        day = _cat([s.day for s in steps])
        age = as_of_day - day
        valid = section.valid_days
        counts = (day <= as_of_day) & (rater != rated)
        if valid is not None:
            counts &= age < valid
        rater, rated, stars, day, age = (x[counts] for x in (rater, rated, stars, day, age))
        seeds = np.asarray(
            pc.index_in(pa.array(section.seeds, pa.string()), value_set=self.ids).to_numpy(
                zero_copy_only=False
            )
        )
        if np.isnan(seeds.astype(np.float64)).any():
            raise ValueError("a peer seed names nobody in the simulated society")
        seeds = seeds.astype(np.int64)
        rates = np.zeros(len(self.ids), np.bool_)
        rates[rater] = True
        if section.seeds and rater.size and not rates[seeds].any():
            raise seeds_absent(section.seeds, int(rater.size), as_of, section.prior)
        taking_part = rates.copy()
        taking_part[rated] = True
        taking_part[seeds] = True
        present = np.flatnonzero(taking_part)
        nodes = present[np.argsort(self._rank[present], kind="stable")]
        self.nodes = nodes
        position = np.full(len(self.ids), -1, np.int64)
        position[nodes] = np.arange(nodes.size)
        about = _cat([s.about for s in steps])
        iday = _cat([s.interaction_day for s in steps])
        known = iday <= as_of_day
        first = np.full(len(self.ids), np.iinfo(np.int64).max, np.int64)
        np.minimum.at(first, about[known], iday[known])
        latest = int(day.max()) + 1 if day.size else 0
        first_day = first[nodes]
        first_day = np.where(first_day == np.iinfo(np.int64).max, latest, first_day)
        decay = (
            1.0 - age / valid
            if section.decay == "linear" and valid
            else np.ones(age.size, np.float64)
        )
        return RatingGraph(
            nodes=self.ids.take(pa.array(nodes)).to_pylist(),
            rater=position[rater],
            rated=position[rated],
            stars=stars.astype(np.float64),
            day=day,
            decay=np.asarray(decay, np.float64),
            first_day=first_day,
            seeds=position[seeds],
            as_of_day=as_of_day,
        )

    def _records(self, s: _Step) -> pa.Table:
        ids = self.ids
        case_text = pc.binary_join_element_wise(
            f"lab-{s.t}-",
            pa.array(np.arange(int(s.interaction_case.max(initial=-1)) + 1)).cast(pa.string()),
            "",
        )
        counterpart = ids.take(pa.array(s.counterpart))
        interaction_attrs = pc.binary_join_element_wise('{"counterpart": "', counterpart, '"}', "")
        rating_attrs = pc.binary_join_element_wise(
            '{"rater": "',
            ids.take(pa.array(s.rater)),
            '", "stars": ',
            pa.array(s.stars).cast(pa.string()),
            "}",
            "",
        )
        interactions = _table(
            f"i{s.t}-", ids.take(pa.array(s.about)), INTERACTION, s.interaction_day,
            case_text.take(pa.array(s.interaction_case)), interaction_attrs,
        )  # fmt: skip
        ratings = _table(
            f"r{s.t}-", ids.take(pa.array(s.rated)), RATING, s.day,
            case_text.take(pa.array(s.case)), rating_attrs,
        )  # fmt: skip
        return pa.concat_tables([interactions, ratings])


def _table(
    prefix: str, about: pa.Array, code: str, day: Ints, case: pa.Array, attrs: pa.Array
) -> pa.Table:
    """Records of one code in the ledger's format (record ids ``prefix`` + row number)."""
    n = len(about)
    return pa.table(
        [
            pc.binary_join_element_wise(prefix, pa.array(np.arange(n)).cast(pa.string()), ""),
            pa.array([_SOURCE] * n, pa.string()),
            about,
            pa.array(["person"] * n, pa.string()),
            pa.array([code] * n, pa.string()),
            pa.array(day.astype(np.int32)).cast(pa.date32()),
            case,
            attrs,
        ],
        schema=RECORDS_SCHEMA,
    )


def _both_ways(a: Ints, partner: Ints) -> tuple[Ints, Ints]:
    return np.concatenate([a, partner]), np.concatenate([partner, a])


def _cat(arrays: list[Ints]) -> Ints:
    return np.concatenate(arrays) if arrays else np.zeros(0, np.int64)


def _target(world: World, b: Behaviour) -> int:
    """The person nearest the ``target_quantile`` of latent quality, never a seed stand-in."""
    people = world.population.people
    if people <= b.peer_seeds:
        return -1
    quality = world.peer_quality[b.peer_seeds : people]
    aim = np.quantile(quality, b.target_quantile)
    return b.peer_seeds + int(np.argmin(np.abs(quality - aim)))


def _rings(world: World, b: Behaviour, target: int) -> Ints:
    """``collusion_rings`` rows of ``ring_size`` people (the first with the target), drawn from
    the people who are not seed stand-ins."""
    pool = np.arange(b.peer_seeds, world.population.people, dtype=np.int64)
    wanted = b.collusion_rings * b.ring_size
    if not wanted or wanted > pool.size:
        return np.zeros((0, b.ring_size), np.int64)
    rng = np.random.default_rng([world.key, 0x21C6])
    others = rng.permutation(pool[pool != target])
    members = np.concatenate([[target], others])[:wanted] if target >= 0 else others[:wanted]
    return members.reshape(b.collusion_rings, b.ring_size)
