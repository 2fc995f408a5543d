"""The ledger's index of peer ratings by rater and day.

A rating is a record about the rated person, naming the rater in ``attrs.rater``
(:mod:`xinyong.domain.peer_records`); the daily limit counts a rater's ratings of one day, which
the subject index can only reach through everyone the rater met. This partial index on
``(rater, occurred_at)`` over rating records only makes that count one probe per rater and day.

As in :mod:`xinyong.ledger.related_index`, a planner uses a partial expression index only when
the query repeats its expression and its predicate, so both are written once here:
:func:`rater_of` and :data:`IS_RATING` (the code as a constant, not a bound parameter, which a
generic plan could not hold to the index's predicate).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from xinyong.domain.peer_records import RATING
from xinyong.ledger.schema import records

__all__ = ["CREATE_INDEX", "INDEX_NAME", "IS_RATING", "rater_of"]

INDEX_NAME = "ix_records_rater_day"
_RATER = {
    "sqlite": "json_extract({attrs}, '$.rater')",
    "postgresql": "({attrs})::jsonb ->> 'rater'",
}


class rater_of(FunctionElement[str]):
    """The rater a record's ``attrs`` name, as the index computes it."""

    type = String()
    inherit_cache = True


@compiles(rater_of)
def _rater_of(element: rater_of, compiler: SQLCompiler, **kw: Any) -> str:
    attrs = compiler.process(element.clauses, **kw)
    return "(" + _RATER[compiler.dialect.name].format(attrs=attrs) + ")"


IS_RATING: ColumnElement[bool] = records.c.code == literal_column(f"'{RATING}'")
"""A rating record (the index's predicate)."""

CREATE_INDEX = {
    dialect: (
        f"CREATE INDEX {INDEX_NAME} ON records (({rater.format(attrs='attrs')}), occurred_at) "
        f"WHERE code = '{RATING}'"
    )
    for dialect, rater in _RATER.items()
}
"""The index, per database (migration 0019)."""
