"""An explanation as JSON: what ``xinyong explain --json``, the API and notices show."""

from __future__ import annotations

from xinyong.peer.pseudonyms import RaterLabels
from xinyong.peer.result import PeerScore
from xinyong.scoring.reference import Explanation

__all__ = ["explanation_json", "peer_json"]


def peer_json(
    peer: PeerScore, points: float, raters: RaterLabels | None = None
) -> dict[str, object]:
    """A peer score with every rating behind it and what each safeguard discounted.

    With ``raters`` (the rated subject's own view) each rater is a pseudonym, and the rater's
    weight, the decay and the safeguard share are left out: only the resulting weight of each
    rating and the reasons for its discounts are shown (:mod:`xinyong.peer.pseudonyms`).
    """
    ratings: list[dict[str, object]] = []
    for r in peer.ratings:
        shown: dict[str, object] = {
            "record": r.record,
            "rater": r.rater if raters is None else raters.label(r.rater),
            "stars": r.stars,
            "occurred_at": r.occurred_at.isoformat(),
            "age_days": r.age_days,
        }
        if raters is None:
            shown |= {"decay": r.decay, "safeguard": r.safeguard, "rater_weight": r.rater_weight}
        ratings.append(shown | {"weight": r.weight, "discounted": list(r.reasons)})
    return {
        "algorithm": peer.algorithm,
        "score": peer.score,
        "points": points,
        "prior": peer.prior,
        "min_ratings": peer.min_ratings,
        "iterations": peer.iterations,
        "converged": peer.converged,
        "ratings": ratings,
    }


def explanation_json(
    result: Explanation, version: str, raters: RaterLabels | None = None
) -> dict[str, object]:
    """The explanation as a JSON-ready dict (also served by the API); ``raters``: as the rated
    subject sees it (see :func:`peer_json`)."""
    result_json: dict[str, object] = {
        "subject_id": result.standing.subject_id,
        "scheme": result.scheme_id,
        "version": version,
        "as_of": result.as_of.isoformat(),
        "base": result.base,
        "raw_score": result.raw_score,
        "score": result.standing.score,
        "grade": result.standing.grade,
        "score_grade": result.score_grade,
        "assignments": [{"rule": r, "grade": g} for r, g in result.assignments],
        "grade_before_veto": result.grade_before_veto,
        "vetoes": [{"rule": r, "grade": g} for r, g in result.vetoes],
        "lists": list(result.standing.lists),
        "measures": list(result.standing.measures),
        "rules": [
            {
                "rule": r.rule_id,
                "records": r.count,
                "total": r.raw_total,
                "capped_total": r.total,
                "capped": r.capped,
            }
            for r in result.rules
        ],
        "records": [
            {
                "record": c.record.key,
                "code": c.record.code,
                "occurred_at": c.record.occurred_at.isoformat(),
                "rule": c.rule_id,
                "counted": c.counted,
                "age_days": c.age_days,
                "factor": c.factor,
                "contribution": c.contribution,
                "units": c.units,
                "term": c.term or None,
                "ends_on": None if c.ends_on is None else c.ends_on.isoformat(),
                "reason": c.reason,
            }
            for c in result.records
        ],
        "ignored": [
            {
                "record": r.key,
                "code": r.code,
                "occurred_at": r.occurred_at.isoformat(),
                "reason": reason,
            }
            for r, reason in result.ignored
        ],
    }
    if result.peer is not None:
        result_json["peer"] = peer_json(result.peer, result.peer_points, raters)
    return result_json
