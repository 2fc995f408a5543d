"""Gate denials, wrongful ones, and the cascades that cause them (peer schemes).

A *gate* is a measure of the scheme (``board-flight`` in the Nosedive pilots); a person scored
without it is *denied*. Every peer arm runs beside its *counterfactual*: the same arm over the
same world and draws, without bad days, collusion rings or fake accounts
(:class:`~xinyong.lab.society.Society` with ``shocks=False``). Definitions (also in
``docs/lab.md``), per step:

- ``wrongful_gate_denials``: the share of gate denials that the counterfactual does not have: a
  person denied because of a bad day (their own, or one that reached them through others'
  ratings), a collusion ring or a sybil attack, not because of how they usually behave;
- ``wrongful_denials_per_1000``: wrongful gate denials per 1,000 scored people (a share of
  denials flatters an arm that denies nearly everyone);
- **cascade** of a bad day of person ``i`` in step ``s``: the people pushed below the gate
  wrongly (not wrongly denied at ``s - 1``, wrongly denied at some step from ``s`` to
  ``s + cascade_steps``) among ``i`` and everyone who rated ``i`` or was rated by
  ``i`` in those steps, leaving out the others who had a bad day of their own then (their fall
  may be their own). ``cascade_size`` is the mean size of the cascades whose window closed this
  step; every size goes to the distribution in the report (``cascades.csv``). Attribution is by
  contact, not by a counterfactual per bad day: a person wrongly denied near two bad days counts
  in both cascades;
- ``time_to_recover_days``: mean days from a wrongful denial to its end (the person boards, or
  the counterfactual denies them too), over those ended so far: denials still running at the
  end of the run are not counted, so it understates long ones;
- ``missed_misconduct``: the share of people whose latent quality is below
  ``misconduct_quality`` (real misconduct) whom the gate lets through;
- ``wrongful_denial_impact:D``: per group dimension, the lowest group rate of wrongful denial
  divided by the highest (1: equal), and ``wrongful_denial_impact`` the worst dimension.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from xinyong.lab.metrics import disparate_impact

__all__ = ["GateWatch"]

Mask = npt.NDArray[np.bool_]


@dataclass(slots=True)
class _Seen:
    t: int
    wrongful: Mask
    bad: Mask
    contacts: sp.csr_matrix


@dataclass(slots=True)
class GateWatch:
    """What one arm's gate did, step by step, against its counterfactual."""

    people: int
    step_days: int
    window: int
    """``cascade_steps``: a cascade is counted over this many steps after the bad day."""
    groups: dict[str, tuple[npt.NDArray[np.int64], int]]
    """Per group dimension: each person's group and the number of groups."""
    misconduct: Mask
    """People whose latent quality is below ``misconduct_quality``."""
    sizes: list[tuple[int, int]] = field(default_factory=list)
    """Every closed cascade: (step of the bad day, size)."""
    _since: npt.NDArray[np.int32] = field(init=False)
    _recovered: list[int] = field(default_factory=list)
    _seen: deque[_Seen] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._since = np.full(self.people, -1, np.int32)

    def observe(
        self,
        t: int,
        scored: Mask,
        denied: Mask,
        counterfactual_denied: Mask,
        bad: Mask,
        contacts: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    ) -> dict[str, Any]:
        """Step ``t``'s gate metrics (arrays over people)."""
        wrongful = denied & ~counterfactual_denied
        started = wrongful & (self._since < 0)
        ended = ~wrongful & (self._since >= 0)
        self._recovered.extend(((t - self._since[ended]) * self.step_days).tolist())
        self._since[ended] = -1
        self._since[started] = t
        rater, rated = contacts
        ones = np.ones(rater.size, np.int32)
        shape = (self.people, self.people)
        met = sp.csr_matrix((ones, (rater, rated)), shape=shape)
        self._seen.append(_Seen(t, wrongful, bad, (met + met.T).tocsr()))
        closed = self._close(t)
        denials = int(denied.sum())
        row: dict[str, Any] = {
            "gate_denial_rate": denials / max(int(scored.sum()), 1),
            "wrongful_gate_denial_count": int(wrongful.sum()),
            "wrongful_gate_denials": float(wrongful.sum()) / denials if denials else math.nan,
            "wrongful_denials_per_1000": 1000.0 * float(wrongful.sum()) / max(int(scored.sum()), 1),
            "cascade_size": float(np.mean(closed)) if closed.size else math.nan,
            "time_to_recover_days": float(np.mean(self._recovered))
            if self._recovered
            else math.nan,
        }
        through = scored & self.misconduct & ~denied
        bad_people = int((scored & self.misconduct).sum())
        row["missed_misconduct"] = float(through.sum()) / bad_people if bad_people else math.nan
        worst = []
        for name, (labels, count) in self.groups.items():
            ratio, _ = disparate_impact(wrongful[scored], labels[scored], count)
            row[f"wrongful_denial_impact:{name}"] = ratio
            if not math.isnan(ratio):
                worst.append(ratio)
        row["wrongful_denial_impact"] = min(worst) if worst else math.nan
        return row

    def _close(self, t: int) -> npt.NDArray[np.int64]:
        """The cascades of the bad days of step ``t - window``, whose window ends now."""
        while len(self._seen) > self.window + 2:
            self._seen.popleft()
        steps = list(self._seen)
        # the window's steps, and the step before it (who was wrongly denied already)
        window = [s for s in steps if s.t >= t - self.window]
        before = [s for s in steps if s.t == t - self.window - 1]
        if len(window) < self.window + 1 or window[0].t != t - self.window:
            return np.zeros(0, np.int64)
        origin = np.flatnonzero(window[0].bad)
        if not origin.size:
            return np.zeros(0, np.int64)
        wrongful = np.logical_or.reduce([s.wrongful for s in window])
        if before:  # pushed below within the window: not wrongly denied just before it
            wrongful &= ~before[0].wrongful
        own_bad = np.logical_or.reduce([s.bad for s in window])
        reached = window[0].contacts
        for seen in window[1:]:
            reached = reached + seen.contacts
        victims = (wrongful & ~own_bad).astype(np.int64)
        linked = reached[origin]
        linked.data[:] = 1
        sizes: npt.NDArray[np.int64] = np.asarray(linked @ victims, np.int64).ravel()
        sizes += wrongful[origin].astype(np.int64)
        self.sizes.extend((t - self.window, int(size)) for size in sizes)
        return sizes
