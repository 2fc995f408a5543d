"""One arm of an experiment: a scheme run step by step over a world, with the production engine.

Each step the arm decides which of the step's potential acts happen under its scheme
(deterrence), applies objections and repairs decided earlier, scores every subject with the
compiled scheme on DuckDB (the expression of the duckdb engine of ``xinyong score``, compiled
once: :mod:`xinyong.engines.step_scorer`) as of the step's last day, and reports its metrics. The
*truth* (the same scheme over the same records without the erroneous ones, for the subjects
that have an erroneous record) tells wrongful listings apart.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.peer_records import PEER_CODES
from xinyong.engines.step_scorer import StepScorer
from xinyong.lab.behaviour import Behaviour
from xinyong.lab.cascades import GateWatch
from xinyong.lab.metrics import FOUR_FIFTHS, churn, disparate_impact, gini
from xinyong.lab.society import Society
from xinyong.lab.world import EPOCH, World
from xinyong.peer.algorithms import compute_peer_scores
from xinyong.peer.safeguards import COLLUSION, NEWCOMER, RETALIATION
from xinyong.schemes.load import LoadedScheme, scheme_hash
from xinyong.synth.population import INCOME_BANDS, REGIONS

__all__ = ["Arm", "control_violations"]

_NEVER = np.iinfo(np.int32).max


def control_violations(world: World, step: int) -> int:
    """Adverse acts of the step with no scheme at all (errors are not acts)."""
    return int(((world.step == step) & world.adverse & ~world.erroneous).sum())


@dataclass(slots=True)
class Arm:
    """A scheme's run over one world."""

    label: str
    loaded: LoadedScheme
    world: World
    behaviour: Behaviour
    groups: tuple[str, ...]
    gate: str | None = None
    """The measure whose absence is a gate denial (peer schemes: wrongful denials, cascades)."""
    shocks: bool = True
    """False for a counterfactual: no bad days, collusion rings or fake accounts."""
    kept: npt.NDArray[np.bool_] = field(init=False)
    voided_day: npt.NDArray[np.int32] = field(init=False)
    sanctioned: npt.NDArray[np.bool_] = field(init=False)
    listed: npt.NDArray[np.bool_] = field(init=False)
    grade: npt.NDArray[np.int16] = field(init=False)
    wrongful_since: npt.NDArray[np.int32] = field(init=False)
    cleared_days: list[int] = field(init=False, default_factory=list)
    counted_code: npt.NDArray[np.bool_] = field(init=False)
    read_code: npt.NDArray[np.bool_] = field(init=False)
    black: frozenset[str] = field(init=False)
    sanctions: frozenset[str] = field(init=False)
    scorer: StepScorer = field(init=False)
    society: Society | None = field(init=False)
    visible: npt.NDArray[np.float64] = field(init=False)
    """Each subject's current peer score under this arm (what raters see)."""
    score_before: npt.NDArray[np.float64] = field(init=False)
    last_timings: dict[str, float] = field(init=False, default_factory=dict)
    _scoring: float = field(init=False, default=0.0)
    _t: int = field(init=False, default=0)
    _peer: pa.Table | None = field(init=False, default=None)
    _members: dict[str, npt.NDArray[np.bool_]] = field(init=False, default_factory=dict)
    _measures: dict[str, npt.NDArray[np.bool_]] = field(init=False, default_factory=dict)
    """Per list id, who is on it after the last scoring (the truth scoring does not count)."""
    members_before: dict[str, npt.NDArray[np.bool_]] = field(init=False, default_factory=dict)
    counterfactual: Arm | None = field(init=False, default=None)
    """The same arm without shocks, run beside it, when the arm has a gate to watch."""
    watch: GateWatch | None = field(init=False, default=None)
    denied: npt.NDArray[np.bool_] = field(init=False)
    """People scored without the gate measure after the last step."""
    _reads_peer_codes: bool = field(init=False, default=False)
    _gated: bool = field(init=False, default=False)
    """Whether the scheme has the gate measure."""
    _discounted: dict[str, float] = field(init=False, default_factory=dict)
    """Peer schemes: the share of the last step's counting ratings each safeguard flagged."""
    """Seconds the last step spent scoring (the engine) and on everything else."""

    def __post_init__(self) -> None:
        world, scheme = self.world, self.loaded.scheme
        n, size = len(world.subject), world.population.size
        self.kept = np.zeros(n, np.bool_)
        self.voided_day = np.full(n, _NEVER, np.int32)
        self.sanctioned = np.zeros(size, np.bool_)
        self.listed = np.zeros(size, np.bool_)
        self.grade = np.full(size, -1, np.int16)
        self.wrongful_since = np.full(size, -1, np.int32)
        self.counted_code = np.array(
            [any(r.matches(c) and r.unit_points < 0 for r in scheme.rules) for c in world.codes],
            dtype=np.bool_,
        )
        self.read_code = np.array(
            [any(r.matches(c) or c in r.cleared_by for r in scheme.rules) for c in world.codes],
            dtype=np.bool_,
        )
        self.black = frozenset(lst.id for lst in scheme.lists if lst.kind == "black")
        self.sanctions = frozenset(m.id for m in scheme.measures if m.kind == "sanction")
        if scheme.peer is not None and scheme.peer.seeds:
            # The scheme's seed ids name nobody here: the first people stand in for them.
            stand_ins = world.population.subject_id[: self.behaviour.peer_seeds].to_pylist()
            peer = scheme.peer.model_copy(update={"seeds": tuple(stand_ins)})
            scheme = scheme.model_copy(update={"peer": peer})
            self.loaded = LoadedScheme(
                scheme, self.loaded.text, self.loaded.path, scheme_hash(scheme)
            )
        self.scorer = StepScorer(scheme)
        self.society = (
            Society(world, self.behaviour, shocks=self.shocks) if scheme.peer is not None else None
        )
        self._reads_peer_codes = any(
            r.matches(code) or code in r.cleared_by for r in scheme.rules for code in PEER_CODES
        )
        self.denied = np.zeros(world.population.people, np.bool_)
        self._gated = self.gate is not None and any(m.id == self.gate for m in scheme.measures)
        if self.society is not None and self._gated and self.shocks:
            self.counterfactual = Arm(
                self.label, self.loaded, world, self.behaviour, self.groups, self.gate, False
            )
            self.watch = self._gate_watch()
        prior = float(scheme.peer.prior) if scheme.peer is not None else 0.0
        self.visible = np.full(size, prior)
        self.score_before = np.full(size, np.nan)

    def step_scores(self, t: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
        """Run step ``t`` as a counterfactual: who was scored, and their scores."""
        self.step(t)
        return ~np.isnan(self.score_before), np.nan_to_num(self.score_before)

    def step(self, t: int) -> dict[str, Any]:
        """Run step ``t``; return its metrics."""
        started = time.perf_counter()
        self._scoring = 0.0
        self._t = t
        world, b = self.world, self.behaviour
        as_of = world.as_of(t)
        as_of_day = (as_of - EPOCH).days
        acts = self._decide_acts(t)
        if self.society is not None:
            self.society.step(t, self.visible)
        # As in the ledger: known by now, not voided (objection, repair), not expired at the
        # catalog's maximum display period; and, to spare the engine, only codes the scheme's
        # rules read (a record no rule matches or clears with changes no standing).
        counting = (
            self.kept
            & (world.step <= t)
            & (self.voided_day > as_of_day)
            & (world.day > as_of_day - world.max_display_days[world.code])
            & self.read_code[world.code]
        )
        scored, score, grade, listed, sanctions = self._score(counting, as_of)
        members = self._members
        gated = self._measures.get(self.gate) if self.gate is not None else None
        wrongful = self._wrongful(counting, listed, as_of)

        newly_wrongful = wrongful & (self.wrongful_since < 0)
        self._object(t, counting, newly_wrongful, as_of_day + b.objection_days)
        cleared = (self.wrongful_since >= 0) & ~wrongful
        self.cleared_days.extend(((t - self.wrongful_since[cleared]) * world.step_days).tolist())
        self.wrongful_since[cleared] = -1
        self.wrongful_since[newly_wrongful] = t
        self._repair(t, counting, listed, as_of_day)

        metrics = self._metrics(t, scored, score, grade, listed, sanctions, wrongful, acts)
        metrics["haywire_index"] = self._haywire(t, scored, score)
        metrics.update(self._list_metrics(members, scored))
        metrics.update(self._discounted)
        metrics.update(self._gate_metrics(t, scored, score, gated))
        self.members_before = members
        self.score_before = np.where(scored, score, np.nan)
        self.listed, self.sanctioned = listed, sanctions > 0
        self.grade = np.where(scored, grade, -1).astype(np.int16)
        total = time.perf_counter() - started
        self.last_timings = {"scoring_s": self._scoring, "simulation_s": total - self._scoring}
        return metrics

    def _group(self, dimension: str) -> tuple[npt.NDArray[np.int64], int]:
        """Every subject's group in a dimension (income band or region), and how many groups."""
        population = self.world.population
        if dimension == "income_band":
            return population.band.astype(np.int64), len(INCOME_BANDS)
        return population.region.astype(np.int64), len(REGIONS)

    def _gate_watch(self) -> GateWatch:
        world, b = self.world, self.behaviour
        people = world.population.people
        groups = {}
        for dimension in self.groups:
            labels, count = self._group(dimension)
            groups[dimension] = (labels[:people], count)
        return GateWatch(
            people,
            world.step_days,
            b.cascade_steps,
            groups,
            world.peer_quality[:people] < b.misconduct_quality,
        )

    def _gate_metrics(
        self,
        t: int,
        scored: npt.NDArray[np.bool_],
        score: npt.NDArray[np.float64],
        gated: npt.NDArray[np.bool_] | None,
    ) -> dict[str, Any]:
        """Gate denials against the counterfactual, cascades, and what attacks did to the
        target (nothing without a gate: see :mod:`xinyong.lab.cascades`)."""
        people = self.world.population.people
        if gated is not None:
            self.denied = scored[:people] & ~gated[:people]
        twin, watch, society = self.counterfactual, self.watch, self.society
        if twin is None or watch is None or society is None:
            return {}
        twin_scored, twin_score = twin.step_scores(t)
        self._scoring += twin.last_timings["scoring_s"]
        row = watch.observe(
            t,
            scored[:people],
            self.denied,
            twin.denied,
            society.bad_day[:people],
            society.contacts(t),
        )
        target = society.target
        if target >= 0:
            row["target_score"] = float(score[target]) if scored[target] else math.nan
            row["target_gate"] = float(not self.denied[target]) if scored[target] else math.nan
            row["target_shift"] = (
                float(score[target] - twin_score[target])
                if scored[target] and twin_scored[target]
                else math.nan
            )
        return row

    def _list_metrics(
        self, members: dict[str, npt.NDArray[np.bool_]], scored: npt.NDArray[np.bool_]
    ) -> dict[str, Any]:
        """Per list: size, inflow and outflow; and the red lists' members per 1,000."""
        n = max(int(scored.sum()), 1)
        row: dict[str, Any] = {}
        red = np.zeros(len(scored), np.bool_)
        for lst in self.loaded.scheme.lists:
            now = members[lst.id]
            before = self.members_before.get(lst.id, np.zeros(len(now), np.bool_))
            row[f"list_size:{lst.id}"] = int(now.sum())
            row[f"list_inflow:{lst.id}"] = int((now & ~before).sum())
            row[f"list_outflow:{lst.id}"] = int((~now & before).sum())
            if lst.kind == "red":
                red |= now
        row["red_listed_per_1000"] = 1000.0 * float(red.sum()) / n
        return row

    def _haywire(
        self, t: int, scored: npt.NDArray[np.bool_], score: npt.NDArray[np.float64]
    ) -> float:
        """Share of scored subjects whose score fell by more than ``haywire_drop`` this step
        with no new adverse record and no bad day of their own: a fall that others' ratings (or
        their weights) caused. Only peer schemes fall that way; for others it is NaN."""
        if self.society is None:
            return math.nan
        world = self.world
        before = self.score_before
        compared = scored & ~np.isnan(before)
        if not compared.any():
            return math.nan
        own = self.society.bad_day.copy()
        acted = (world.step == t) & self.kept & world.adverse
        own[world.subject[acted]] = True
        fell = compared & ~own & (before - score > self.behaviour.haywire_drop)
        return float(fell.sum()) / float(compared.sum())

    def _decide_acts(self, t: int) -> int:
        """Which of step ``t``'s potential records happen here; return the adverse acts."""
        world, b = self.world, self.behaviour
        new = np.flatnonzero(world.step == t)
        factor = np.where(self.counted_code[world.code[new]], 1.0 - b.detection_elasticity, 1.0)
        factor = factor * np.where(
            self.sanctioned[world.subject[new]], 1.0 - b.sanction_elasticity, 1.0
        )
        adverse, erroneous = world.adverse[new], world.erroneous[new]
        self.kept[new] = ~adverse | erroneous | (world.uniform[new] < factor)
        # A fulfilment of an act that did not happen does not happen either. The act is never
        # later than its fulfilment, so it has been decided by now (this step or before).
        link = world.listing_of[new]
        linked = new[link >= 0]
        self.kept[linked] &= self.kept[link[link >= 0]]
        return int((self.kept[new] & adverse & ~erroneous).sum())

    def _score(
        self, counting: npt.NDArray[np.bool_], as_of: Any
    ) -> tuple[
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64],
        npt.NDArray[np.int16],
        npt.NDArray[np.bool_],
        npt.NDArray[np.int32],
    ]:
        """Score every subject; return per-subject arrays (scored, score, grade, listed,
        number of sanctions in force)."""
        world = self.world
        records = world.records.filter(pa.array(counting))
        self._peer = None
        if self.society is not None:
            records, self._peer = self._with_ratings(records, as_of)
        mark = time.perf_counter()
        table = self.scorer.score(records, world.subjects, as_of, self._peer)
        self._scoring += time.perf_counter() - mark
        return self._arrays(table, world.population.size)

    def _with_ratings(self, records: pa.Table, as_of: Any) -> tuple[pa.Table, pa.Table]:
        """The peer scores of the arm's ratings (which become what raters see next step), and
        the records the scheme reads: the rating records too when a rule reads a peer code."""
        assert self.society is not None
        section = self.loaded.scheme.peer
        assert section is not None
        world = self.world
        keep = int(world.max_display_days.max(initial=365))
        if section.valid_days is not None:
            # Interactions count further back than ratings: a rater's first interaction of the
            # window must be a newcomer period older than its ratings, or every established
            # rater would look new at the start of each window.
            keep = min(keep, section.valid_days + (section.safeguards.newcomer_days or 0))
        mark = time.perf_counter()
        graph = self.society.graph(section, self._t, keep, self.loaded.scheme.subject_kinds)
        peer = compute_peer_scores(section, graph)
        self._scoring += time.perf_counter() - mark
        flags, counted = peer.discounts.flags, max(graph.size, 1)
        self._discounted = {
            f"discounted_{name}": float(np.count_nonzero(flags & flag)) / counted
            for name, flag in (
                ("retaliation", RETALIATION),
                ("collusion", COLLUSION),
                ("newcomer", NEWCOMER),
            )
        }
        nodes = self.society.nodes  # the graph's nodes as numbers: people first, then fakes
        real = nodes < world.population.size
        self.visible[:] = float(section.prior)  # as the engine scores whoever nobody rated
        self.visible[nodes[real]] = np.asarray(peer.score)[real]
        if self._reads_peer_codes:
            records = pa.concat_tables([records, self.society.records(self._t, keep)])
        return records, peer.table()

    def _arrays(
        self, table: pa.Table, size: int
    ) -> tuple[
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64],
        npt.NDArray[np.int16],
        npt.NDArray[np.bool_],
        npt.NDArray[np.int32],
    ]:
        scheme = self.loaded.scheme
        index = _to_numpy(
            pc.index_in(table["subject_id"], value_set=self.world.population.subject_id)
        )
        index = index.astype(np.int64)
        scored = np.zeros(size, np.bool_)
        scored[index] = True
        score = np.zeros(size, np.float64)
        score[index] = _to_numpy(table["score"]).astype(np.float64)
        names = pa.array([g.name for g in scheme.grades])
        grade = np.full(size, -1, np.int16)
        grade[index] = _to_numpy(pc.index_in(table["grade"], value_set=names)).astype(np.int16)
        listed = np.zeros(size, np.bool_)
        listed[index] = _any_member(table["lists"], self.black)
        self._members = {}
        for lst in scheme.lists:
            member = np.zeros(size, np.bool_)
            member[index] = _any_member(table["lists"], frozenset({lst.id}))
            self._members[lst.id] = member
        sanctions = np.zeros(size, np.int32)
        sanctions[index] = _count_members(table["measures"], self.sanctions)
        if self.gate is not None and self._gated:
            held = np.zeros(size, np.bool_)
            held[index] = _any_member(table["measures"], frozenset({self.gate}))
            self._measures = {self.gate: held}
        return scored, score, grade, listed, sanctions

    def _wrongful(
        self, counting: npt.NDArray[np.bool_], listed: npt.NDArray[np.bool_], as_of: Any
    ) -> npt.NDArray[np.bool_]:
        """Listed subjects who would not be listed without their erroneous records."""
        world = self.world
        wrongful = np.zeros(world.population.size, np.bool_)
        touched = np.unique(world.subject[counting & world.erroneous])
        touched = touched[listed[touched]]
        if not len(touched):
            return wrongful
        mine = np.zeros(world.population.size, np.bool_)
        mine[touched] = True
        truth_records = world.records.filter(
            pa.array(counting & ~world.erroneous & mine[world.subject])
        )
        truth_subjects = world.subjects.take(pa.array(touched))
        mark = time.perf_counter()
        table = self.scorer.score(truth_records, truth_subjects, as_of, self._peer)
        self._scoring += time.perf_counter() - mark
        _, _, _, truly_listed, _ = self._arrays(table, world.population.size)
        wrongful[touched] = ~truly_listed[touched]
        return wrongful

    def _object(
        self, t: int, counting: npt.NDArray[np.bool_], newly: npt.NDArray[np.bool_], on: int
    ) -> None:
        """Wrongly listed subjects object; the upheld ones' erroneous records stop counting."""
        b = self.behaviour
        candidates = np.flatnonzero(newly)
        chance = self.world.uniform_for(candidates, t, stream=1)
        wins = candidates[chance < b.objection_rate * b.objection_win_rate]
        if not len(wins):
            return
        winner = np.zeros(len(newly), np.bool_)
        winner[wins] = True
        void = counting & self.world.erroneous & winner[self.world.subject]
        self.voided_day[void] = np.minimum(self.voided_day[void], on)

    def _repair(
        self, t: int, counting: npt.NDArray[np.bool_], listed: npt.NDArray[np.bool_], today: int
    ) -> None:
        """Eligible adverse records of listed subjects are repaired with ``repair_rate``."""
        world, b = self.world, self.behaviour
        per_step = 1.0 - (1.0 - b.repair_rate) ** (world.step_days / 30.0)
        eligible = np.flatnonzero(
            counting
            & world.adverse
            & listed[world.subject]
            & (world.day <= today - world.min_display_days[world.code])
        )
        repaired = eligible[self.world.uniform_for(eligible, t, stream=2) < per_step]
        self.voided_day[repaired] = np.minimum(self.voided_day[repaired], today + 1)

    def _metrics(
        self,
        t: int,
        scored: npt.NDArray[np.bool_],
        score: npt.NDArray[np.float64],
        grade: npt.NDArray[np.int16],
        listed: npt.NDArray[np.bool_],
        sanctions: npt.NDArray[np.int32],
        wrongful: npt.NDArray[np.bool_],
        acts: int,
    ) -> dict[str, Any]:
        world, scheme = self.world, self.loaded.scheme
        n = max(int(scored.sum()), 1)
        listed_now = int(listed.sum())
        control = control_violations(world, t)
        row: dict[str, Any] = {
            "arm": self.label,
            "scheme": scheme.id,
            "version": self.loaded.version,
            "step": t,
            "as_of": world.as_of(t),
            "scored": int(scored.sum()),
            "listed": listed_now,
            "listed_per_1000": 1000.0 * listed_now / n,
            "inflow": int((listed & ~self.listed).sum()),
            "outflow": int((~listed & self.listed).sum()),
            "sanctions_per_1000": 1000.0 * float(sanctions.sum()) / n,
            "wrongful_listings": int(wrongful.sum()),
            "wrongful_listing_rate": float(wrongful.sum()) / listed_now if listed_now else 0.0,
            "time_to_clear_days": float(np.mean(self.cleared_days))
            if self.cleared_days
            else math.nan,
            "violations": acts,
            "control_violations": control,
            "deterrence": 1.0 - acts / control if control else math.nan,
            "gini": gini(score[scored], None if scheme.floor is None else float(scheme.floor)),
            "churn": churn(self.grade[scored], grade[scored]),
        }
        for i, g in enumerate(scheme.grades):
            row[f"grade_share:{g.name}"] = float((grade[scored] == i).sum()) / n
        people = scored & world.population.is_person
        ratios = []
        for dimension in self.groups:
            labels, count = self._group(dimension)
            ratio, _ = disparate_impact(listed[people], labels[people], count)
            row[f"disparate_impact:{dimension}"] = ratio
            if not math.isnan(ratio):
                ratios.append(ratio)
        worst = min(ratios) if ratios else math.nan
        row["disparate_impact"] = worst
        row["four_fifths_flag"] = bool(not math.isnan(worst) and worst < FOUR_FIFTHS)
        return row


def _to_numpy(array: pa.ChunkedArray | pa.Array) -> npt.NDArray[Any]:
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _any_member(column: pa.ChunkedArray, ids: frozenset[str]) -> npt.NDArray[np.bool_]:
    return _count_members(column, ids) > 0


def _count_members(column: pa.ChunkedArray, ids: frozenset[str]) -> npt.NDArray[np.int32]:
    """Per row of ``a;b;c`` strings: how many of the items are in ``ids``."""
    rows = len(column)
    if not ids or rows == 0:
        return np.zeros(rows, np.int32)
    parts = pc.split_pattern(column, ";")
    flat = pc.list_flatten(parts)
    parent = _to_numpy(pc.list_parent_indices(parts)).astype(np.int64)
    hit = _to_numpy(pc.is_in(flat, value_set=pa.array(sorted(ids)))).astype(np.bool_)
    return np.bincount(parent[hit], minlength=rows).astype(np.int32)
