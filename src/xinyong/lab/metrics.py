"""The lab's metrics, as pure functions of arrays (one value per subject unless said otherwise).

Definitions (also in ``docs/lab.md``):

- **Gini** of scores: the Gini coefficient of the scores shifted so the lowest possible score is
  zero (scores may be negative; the Gini needs non-negative values). 0 when all are equal.
- **Disparate impact** of a group dimension: the lowest group listing rate divided by the
  highest (1 = equal; below 0.8 fails the four-fifths rule of the US EEOC's Uniform Guidelines,
  29 CFR 1607.4(D)). Groups with fewer than ``min_members`` people are left out; NaN when no
  group has a listing.
- **Churn**: the share of scored subjects whose grade differs from the previous step.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FOUR_FIFTHS", "churn", "disparate_impact", "gini"]

FOUR_FIFTHS = 0.8


def gini(values: npt.NDArray[np.float64], floor: float | None = None) -> float:
    """Gini coefficient of ``values - floor`` (``floor`` defaults to the minimum)."""
    if len(values) == 0:
        return float("nan")
    shifted = np.sort(values - (values.min() if floor is None else floor))
    total = shifted.sum()
    if total <= 0:
        return 0.0
    n = len(shifted)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float((2.0 * (ranks * shifted).sum()) / (n * total) - (n + 1) / n)


def disparate_impact(
    listed: npt.NDArray[np.bool_],
    group: npt.NDArray[np.integer],
    groups: int,
    min_members: int = 30,
) -> tuple[float, npt.NDArray[np.float64]]:
    """(min rate / max rate, the rate of each group) for listing by group."""
    members = np.bincount(group, minlength=groups).astype(np.float64)
    hits = np.bincount(group, weights=listed.astype(np.float64), minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(members > 0, hits / np.maximum(members, 1), np.nan)
    counted = rates[members >= min_members]
    if len(counted) == 0 or np.nanmax(counted) <= 0:
        return float("nan"), rates
    return float(np.nanmin(counted) / np.nanmax(counted)), rates


def churn(previous: npt.NDArray[np.integer], current: npt.NDArray[np.integer]) -> float:
    """Share of subjects whose grade changed (subjects with no previous grade, -1, not counted)."""
    known = (previous >= 0) & (current >= 0)
    if not known.any():
        return float("nan")
    return float((previous[known] != current[known]).mean())
