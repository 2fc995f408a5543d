"""The ledger's index of related parties: the person a relation record names.

A partial index on one expression per database (``json_extract(attrs, '$.person')`` on SQLite,
``attrs::jsonb ->> 'person'`` on PostgreSQL) over the relation records only. A planner uses a
partial expression index only when the query repeats its expression and its predicate, so both
are written once here, as SQLAlchemy constructs (:class:`named_person`, :data:`IS_RELATION`,
from :mod:`xinyong.ledger.partial_index`), and every query that probes the index uses them: the
lookups below and the stored standing's read (:mod:`xinyong.decisions.precomputed`).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection, bindparam, select

from xinyong.domain.chunks import chunked
from xinyong.domain.relations import RELATION_PREFIX
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.partial_index import AttrsField, attrs_field_sql, code_prefix
from xinyong.ledger.schema import records

__all__ = [
    "CREATE_INDEX",
    "IS_RELATION",
    "named_person",
    "organizations_naming",
    "people_named_by",
    "relation_records_naming",
]


class named_person(AttrsField):
    """The person a record's ``attrs`` name, as the index computes it."""

    field = "person"
    inherit_cache = True


IS_RELATION, _RELATION_WHERE = code_prefix(RELATION_PREFIX)
"""A relation record: its code starts with ``relation.`` (the index's predicate)."""

CREATE_INDEX = {
    dialect: (
        "CREATE INDEX ix_records_related_person ON records "
        f"({attrs_field_sql(dialect, 'attrs', 'person')}) WHERE {_RELATION_WHERE}"
    )
    for dialect in ("sqlite", "postgresql")
}
"""The index, per database (migration 0014)."""


def relation_records_naming(
    conn: Connection, person: str, known_at: int | None = None
) -> list[tuple[int, str]]:
    """The log position and subject (an organisation) of every relation record that names
    ``person``, among the first ``known_at`` entries of the log; whether a relation is in force
    is for the caller to decide from the effective records."""
    if known_at is None:
        found = _NAMING.rows(conn, {"person": person})
    else:
        found = _NAMING_KNOWN.rows(conn, {"person": person, "known_at": known_at})
    return [(int(row[0]), str(row[1])) for row in found]


def _naming(known: bool) -> DriverStatement:
    r = records.c
    query = select(r.position, r.subject_id).where(
        IS_RELATION, named_person(r.attrs) == bindparam("person")
    )
    placeholders: dict[str, object] = {"person": ""}
    if known:
        query = query.where(r.position < bindparam("known_at"))
        placeholders["known_at"] = 0
    return DriverStatement(query.order_by(r.position), placeholders)


_NAMING = _naming(known=False)
_NAMING_KNOWN = _naming(known=True)
"""The relation records naming a person (among the first ``known_at`` entries), compiled once:
a check of a measure that extends to an organisation's people runs it for the person."""


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
        query = select(r.attrs).where(r.subject_id.in_(chunk), IS_RELATION)
        for (attrs,) in conn.execute(query):
            person = orjson.loads(attrs).get("person")
            if isinstance(person, str):
                named.add(person)
    return named
