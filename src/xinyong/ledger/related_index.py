"""The ledger's index of related parties: the person a relation record names.

One expression per database, written out so that the lookup's ``WHERE`` matches the index's
expression and predicate word for word (a planner uses a partial expression index only then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, select, text

from xinyong.domain.chunks import chunked
from xinyong.ledger.schema import records

__all__ = [
    "RELATED_PERSON_INDEX",
    "organizations_naming",
    "people_named_by",
    "relation_records_naming",
]


@dataclass(frozen=True, slots=True)
class _Index:
    person: str
    """The SQL expression for a record's ``attrs.person``."""

    @property
    def create(self) -> str:
        return (
            f"CREATE INDEX ix_records_related_person ON records (({self.person})) "
            "WHERE code LIKE 'relation.%'"
        )

    @property
    def lookup(self) -> str:
        return (
            "SELECT position, subject_id FROM records WHERE code LIKE 'relation.%' "
            f"AND ({self.person}) = :person AND position < :known_at ORDER BY position"
        )


RELATED_PERSON_INDEX = {
    "sqlite": _Index("json_extract(attrs, '$.person')"),
    "postgresql": _Index("attrs::jsonb ->> 'person'"),
}


def relation_records_naming(
    conn: Connection, person: str, known_at: int | None = None
) -> list[tuple[int, str]]:
    """The log position and subject (an organisation) of every relation record that names
    ``person``, among the first ``known_at`` entries of the log; whether a relation is in force
    is for the caller to decide from the effective records."""
    index = RELATED_PERSON_INDEX[conn.dialect.name]
    bound = known_at if known_at is not None else 2**62
    rows = conn.execute(text(index.lookup), {"person": person, "known_at": bound})
    return [(int(row[0]), str(row[1])) for row in rows]


def organizations_naming(conn: Connection, person: str, known_at: int | None) -> list[str]:
    """The organisations whose relation records name ``person`` (see
    :func:`relation_records_naming`), in id order."""
    return sorted({subject for _, subject in relation_records_naming(conn, person, known_at)})


def people_named_by(conn: Connection, subject_ids: Sequence[str]) -> set[str]:
    """Everyone a relation record of these subjects has ever named (in force or not, revoked
    or not): the people whose checks a change to these subjects may change."""
    named: set[str] = set()
    r = records.c
    for chunk in chunked(sorted(set(subject_ids))):
        query = select(r.attrs).where(r.subject_id.in_(chunk), r.code.like("relation.%"))
        for (attrs,) in conn.execute(query):
            person = orjson.loads(attrs).get("person")
            if isinstance(person, str):
                named.add(person)
    return named
