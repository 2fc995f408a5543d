"""What the ledger's partial expression indexes on ``records`` are made of, written once.

A planner uses a partial expression index only when the query repeats the index's expression
and implies its predicate, so each index module (:mod:`xinyong.ledger.related_index`,
:mod:`xinyong.ledger.peer_index`) builds both its ``CREATE INDEX`` and its queries from these:

- :class:`AttrsField`: one field of a record's ``attrs`` (canonical JSON text) as text,
  ``json_extract(attrs, '$.f')`` on SQLite and ``attrs::jsonb ->> 'f'`` on PostgreSQL;
- :func:`code_prefix` and :func:`code_among`: "the code starts with this prefix" as a range of
  constants, and "the code is one of these" as a list of constants (a bound parameter could not
  be held to the predicate under a generic plan, and a ``LIKE`` pattern's ``%`` would collide
  with the driver's placeholders). A range compares strings in the database's collation, and a
  collation that ignores punctuation would put no ``peer.`` code between ``'peer.'`` and
  ``'peer/'``; a list of codes means the same in every collation, so new indexes use it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import ColumnElement, String, and_, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from xinyong.ledger.schema import records

__all__ = ["AttrsField", "attrs_field_sql", "code_among", "code_prefix"]

_FIELD = {
    "sqlite": "json_extract({attrs}, '$.{name}')",
    "postgresql": "({attrs})::jsonb ->> '{name}'",
}


def attrs_field_sql(dialect: str, attrs: str, name: str) -> str:
    """The field ``name`` of the JSON text ``attrs`` (a column or alias), in ``dialect``."""
    return "(" + _FIELD[dialect].format(attrs=attrs, name=name) + ")"


class AttrsField(FunctionElement[str]):
    """A field of ``attrs`` as an index computes it; a subclass names the field in ``field``
    (one class per field keeps SQLAlchemy's statement cache right)."""

    type = String()
    inherit_cache = True
    field: ClassVar[str]


@compiles(AttrsField)
def _attrs_field(element: AttrsField, compiler: SQLCompiler, **kw: Any) -> str:
    attrs = compiler.process(element.clauses, **kw)
    return attrs_field_sql(compiler.dialect.name, attrs, element.field)


def code_prefix(prefix: str) -> tuple[ColumnElement[bool], str]:
    """Records whose code starts with ``prefix``: as a query's condition, and as the index's
    ``WHERE`` text (the same range)."""
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    condition = and_(
        records.c.code >= literal_column(f"'{prefix}'"),
        records.c.code < literal_column(f"'{after}'"),
    )
    return condition, f"code >= '{prefix}' AND code < '{after}'"


def code_among(codes: tuple[str, ...]) -> tuple[ColumnElement[bool], str]:
    """Records whose code is one of ``codes``: as a query's condition, and as the index's
    ``WHERE`` text (the same list, in the same order)."""
    constants = [f"'{code}'" for code in codes]
    condition = records.c.code.in_([literal_column(constant) for constant in constants])
    return condition, f"code IN ({', '.join(constants)})"
