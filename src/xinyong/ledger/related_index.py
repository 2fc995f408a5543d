"""The ledger's index of related parties: the person a relation record names.

A partial index on one expression per database (``json_extract(attrs, '$.person')`` on SQLite,
``attrs::jsonb ->> 'person'`` on PostgreSQL) over the relation records only. A planner uses a
partial expression index only when the query repeats its expression and its predicate, so both
are written once here, as SQLAlchemy constructs (:func:`named_person`, :data:`IS_RELATION`), and
every query that probes the index uses them: the lookups below and the stored standing's read
(:mod:`xinyong.decisions.precomputed`). The predicate is a range of codes, written as constants
(a bound parameter would not prove it under a generic plan, and a ``LIKE`` pattern's ``%``
would collide with the driver's placeholders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, String, and_, bindparam, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from xinyong.domain.chunks import chunked
from xinyong.domain.relations import RELATION_PREFIX
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.schema import records

__all__ = [
    "CREATE_INDEX",
    "IS_RELATION",
    "named_person",
    "organizations_naming",
    "people_named_by",
    "relation_records_naming",
]

_FIRST, _AFTER = RELATION_PREFIX, RELATION_PREFIX[:-1] + chr(ord(RELATION_PREFIX[-1]) + 1)
_PERSON = {
    "sqlite": "json_extract({attrs}, '$.person')",
    "postgresql": "({attrs})::jsonb ->> 'person'",
}


class named_person(FunctionElement[str]):
    """The person a record's ``attrs`` name, as the index computes it."""

    type = String()
    inherit_cache = True


@compiles(named_person)
def _named_person(element: named_person, compiler: SQLCompiler, **kw: Any) -> str:
    attrs = compiler.process(element.clauses, **kw)
    return "(" + _PERSON[compiler.dialect.name].format(attrs=attrs) + ")"


IS_RELATION: ColumnElement[bool] = and_(
    records.c.code >= literal_column(f"'{_FIRST}'"),
    records.c.code < literal_column(f"'{_AFTER}'"),
)
"""A relation record: its code starts with ``relation.`` (the index's predicate)."""

CREATE_INDEX = {
    dialect: (
        f"CREATE INDEX ix_records_related_person ON records (({person.format(attrs='attrs')})) "
        f"WHERE code >= '{_FIRST}' AND code < '{_AFTER}'"
    )
    for dialect, person in _PERSON.items()
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
