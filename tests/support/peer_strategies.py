"""Rating records and ``[peer]`` sections for the peer algorithms' tests, by hand and drawn."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from hypothesis import strategies as st

from xinyong.domain.records import InputRecord
from xinyong.schemes.model import PeerSection

__all__ = ["AS_OF", "KINDS", "PEOPLE", "met", "rating", "section", "sections"]

AS_OF = date(2025, 6, 30)
KINDS = ("person",)
_ids = count(1)


def rating(rater: str, rated: str, stars: float, day: str = "2025-06-20") -> InputRecord:
    return InputRecord(
        f"r{next(_ids)}",
        rated,
        "person",
        "peer.rating",
        date.fromisoformat(day),
        "app",
        "m1",
        {"rater": rater, "stars": stars},
    )


def met(who: str, day: str = "2025-01-01") -> InputRecord:
    return InputRecord(
        f"i{next(_ids)}", who, "person", "peer.interaction", date.fromisoformat(day), "app", "m1"
    )


def section(**values: Any) -> PeerSection:
    return PeerSection.model_validate({"tolerance": 1e-12, "max_iterations": 5000, **values})


PEOPLE = [f"p{i}" for i in range(8)]


@st.composite
def sections(draw: st.DrawFn) -> PeerSection:
    algorithm = draw(st.sampled_from(["nosedive", "bayesian", "eigentrust"]))
    values: dict[str, Any] = {
        "algorithm": algorithm,
        "prior": draw(st.sampled_from([0, 2.5, 3, 4.3])),
        "min_ratings": draw(st.sampled_from([0, 1, 5])),
    }
    if draw(st.booleans()):
        values["valid_for"] = draw(st.sampled_from(["0d", "10d", "30d"]))
        values["decay"] = draw(st.sampled_from(["step", "linear"]))
    if algorithm == "eigentrust":
        values["seeds"] = draw(st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True))
        values["damping"] = draw(st.sampled_from([0.1, 0.15, 0.5]))
    guard: dict[str, Any] = {}
    if draw(st.booleans()):
        guard["retaliation_window"] = draw(st.sampled_from(["0d", "3d", "7d"]))
        guard["retaliation_weight"] = draw(st.sampled_from([0, 0.5]))
    if draw(st.booleans()):
        guard["collusion_size"] = draw(st.integers(3, 5))
        guard["collusion_weight"] = draw(st.sampled_from([0, 0.5]))
    if draw(st.booleans()):
        guard["newcomer_period"] = draw(st.sampled_from(["0d", "5d", "20d"]))
    return section(**values, safeguards=guard)
