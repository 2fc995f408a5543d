"""Interaction and rating rows as a source submits them (``ingest_rows``)."""

from __future__ import annotations

__all__ = ["DOC_10_1_SCHEME", "interaction", "ledger_rating"]

DOC_10_1_SCHEME = """id = "ex-peer"
name = "Peer average"
base = 0

[[grades]]
name = "HIGH"
min = 4

[[grades]]
name = "LOW"

[peer]
algorithm = "bayesian"
prior = 3
min_ratings = 2
valid_for = "30d"
"""
"""The scheme of docs/schemes.md's worked example 10.1 (Bayesian smoothing)."""


def interaction(rid: str, who: str, other: str, case: str, day: str) -> dict[str, object]:
    """``who``'s record of interaction ``case`` with ``other``, as a submitted row."""
    return {
        "record_id": rid,
        "subject_id": who,
        "subject_kind": "person",
        "code": "peer.interaction",
        "occurred_at": day,
        "case_id": case,
        "attrs": {"counterpart": other},
    }


def ledger_rating(
    rid: str, rater: str, rated: str, case: str, day: str, stars: object
) -> dict[str, object]:
    """A rating of ``rated`` by ``rater`` in interaction ``case``, as a submitted row."""
    return {
        "record_id": rid,
        "subject_id": rated,
        "subject_kind": "person",
        "code": "peer.rating",
        "occurred_at": day,
        "case_id": case,
        "attrs": {"rater": rater, "stars": stars},
    }
