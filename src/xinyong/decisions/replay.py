"""Replaying a past decision exactly as it was made.

A decision stores its scheme version, as-of date and ledger size. Replaying evaluates that
scheme version over the effective records as the ledger stood at that size: later records,
revocations and scheme versions do not change it. The replay also reports whether it reproduced
the logged answer (it must: a mismatch means the ledger was tampered with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select

from xinyong.decisions.checks import Decision
from xinyong.decisions.related import RelatedMeasure, related_measure
from xinyong.decisions.standing import SchemeRegistry, standing_of
from xinyong.domain.catalog import Catalog
from xinyong.ledger.schema import inquiries
from xinyong.scoring.reference import Explanation
from xinyong.scoring.store import recorded_overrides

__all__ = [
    "Replay",
    "UnknownDecision",
    "decision_overrides",
    "decisions_about",
    "load_decision",
    "replay_decision",
]


class UnknownDecision(LookupError):
    """No decision with that id."""


@dataclass(frozen=True, slots=True)
class Replay:
    """A decision, its explanation re-derived, and whether the answer was reproduced."""

    decision: Decision
    applies: bool
    explanation: Explanation | None
    overrides: tuple[dict[str, str], ...] = ()
    """The guardrail findings the decision's scheme version was activated despite."""
    related: RelatedMeasure | None = None
    """How the measure applied through the subject's role in an organisation, if it did."""

    @property
    def reproduced(self) -> bool:
        """True when the replay gives the logged answer."""
        return self.applies == self.decision.applies


def load_decision(conn: Connection, decision_id: str) -> Decision:
    """A logged decision."""
    row = conn.execute(select(inquiries).where(inquiries.c.decision_id == decision_id)).first()
    if row is None:
        raise UnknownDecision(decision_id)
    return _decision(row)


def decisions_about(conn: Connection, subject_id: str) -> list[Decision]:
    """Every logged decision about ``subject_id``, newest first."""
    query = (
        select(inquiries)
        .where(inquiries.c.subject_id == subject_id)
        .order_by(inquiries.c.made_at.desc(), inquiries.c.decision_id)
    )
    return [_decision(row) for row in conn.execute(query)]


def decision_overrides(conn: Connection, decision: Decision) -> tuple[dict[str, str], ...]:
    """The guardrail findings the decision's scheme version was activated despite, as they
    stood when it was made: an override recorded later (a later activation of the same
    version) is not part of it, in a replay or a report."""
    found = recorded_overrides(
        conn, decision.scheme_id, decision.version, recorded_by=decision.made_at
    )
    return tuple(r.public() for r in found)


def _decision(row: Row[Any]) -> Decision:
    return Decision(
        decision_id=row.decision_id,
        relying_party=row.relying_party,
        subject_id=row.subject_id,
        measure=row.measure,
        applies=bool(row.applies),
        scheme_id=row.scheme_id,
        version=row.version,
        as_of=row.as_of,
        known_at=int(row.known_at),
        made_at=row.made_at,
    )


def replay_decision(
    conn: Connection, registry: SchemeRegistry, decision_id: str, catalog: Catalog | None
) -> Replay:
    """Re-derive a decision from its scheme version, date and ledger size."""
    decision = load_decision(conn, decision_id)
    loaded = registry.get(conn, decision.scheme_id, decision.version)
    standing = standing_of(
        conn, loaded, decision.subject_id, decision.as_of, decision.known_at, catalog
    )
    explanation = standing.explanation
    applies = explanation is not None and decision.measure in explanation.standing.measures
    related = None
    measure = next((m for m in loaded.scheme.measures if m.id == decision.measure), None)
    if not applies and measure is not None:
        related = related_measure(
            conn, loaded, measure, decision.subject_id, decision.as_of, decision.known_at, catalog
        )
        applies = related is not None
    return Replay(decision, applies, explanation, decision_overrides(conn, decision), related)
