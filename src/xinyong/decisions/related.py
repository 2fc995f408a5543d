"""Measures that reach related parties: a listed organisation's legal representative, principal
persons in charge and actual controller (a measure's ``extends_to``).

A person is subject to such a measure on a day when, as the ledger stood at the decision's log
size, an effective relation record (:mod:`xinyong.domain.relations`) names them in one of the
measure's roles on that day, and the organisation's own standing under the same scheme version
applies the measure. The organisation's standing is its own: relations do not chain (a person
is never reached through a second organisation), and nothing about the person's own records
changes. Checks, their replay and the subject's file all decide it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from xinyong.decisions.standing import standing_of
from xinyong.domain.catalog import Catalog
from xinyong.domain.refusals import Word
from xinyong.domain.relations import Relation, relations_in
from xinyong.i18n import N_, Message
from xinyong.ledger.related_index import organizations_naming
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.model import Measure
from xinyong.scoring.ledger_source import subjects_records

__all__ = ["RelatedMeasure", "related_facts", "related_measure", "relations_of"]


@dataclass(frozen=True, slots=True)
class RelatedMeasure:
    """Why a measure applies to a person: their role in an organisation it applies to."""

    relation: Relation
    lists: tuple[str, ...]
    """The organisation's lists that carry the measure."""

    @property
    def organization(self) -> str:
        """The organisation's subject id."""
        return self.relation.organization

    def reason(self, organization: str) -> str:
        """The reason in words, with the organisation shown as ``organization`` (masked
        wherever anyone but an operator reads it)."""
        role = Word(self.relation.words)
        if not self.lists:
            return Message(
                N_("as %(role)s of %(organization)s"), role=role, organization=organization
            )
        return Message(
            N_("as %(role)s of %(organization)s, listed under %(lists)s"),
            role=role,
            organization=organization,
            lists=", ".join(self.lists),
        )


def relations_of(
    conn: Connection, person: str, as_of: date, known_at: int | None, catalog: Catalog | None
) -> list[Relation]:
    """The roles ``person`` holds on ``as_of`` by effective relation records (revoked,
    corrected-away or expired records do not count), ordered by organisation and role."""
    organizations = organizations_naming(conn, person, known_at)
    found = [
        relation
        for records in subjects_records(conn, organizations, as_of, known_at, catalog).values()
        for relation in relations_in(records, as_of)
        if relation.person == person
    ]
    return sorted(found, key=lambda r: (r.organization, r.role, r.record))


def related_measure(
    conn: Connection,
    loaded: LoadedScheme,
    measure: Measure,
    person: str,
    as_of: date,
    known_at: int,
    catalog: Catalog | None,
    relations: Sequence[Relation] | None = None,
) -> RelatedMeasure | None:
    """The first relation (by organisation and role) through which ``measure`` applies to
    ``person``, or None; ``relations``: the person's, when already read."""
    if not measure.extends_to:
        return None
    held = relations_of(conn, person, as_of, known_at, catalog) if relations is None else relations
    for relation in held:
        if relation.role not in measure.extends_to:
            continue
        explanation = standing_of(
            conn, loaded, relation.organization, as_of, known_at, catalog
        ).explanation
        if explanation is None or measure.id not in explanation.standing.measures:
            continue
        lists = tuple(x for x in measure.lists if x in explanation.standing.lists)
        return RelatedMeasure(relation, lists)
    return None


def related_facts(related: RelatedMeasure) -> dict[str, Any]:
    """What an adverse-check notice names when the measure applies through a relation: the
    person's role, the organisation (in full: the notice goes to the person it is about), its
    lists, and the relation record the person can object to."""
    relation = related.relation
    return {
        "lists": [],
        "records": [],
        "related": {
            "role": relation.role,
            "organization": relation.organization,
            "lists": list(related.lists),
            "record": relation.record,
            "reason": related.reason(relation.organization),
        },
    }
