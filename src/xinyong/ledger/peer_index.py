"""The ledger's indexes of peer records: ratings by rater and day, peer records by interaction.

Interactions and ratings are records about one person naming the other in ``attrs``
(:mod:`xinyong.domain.peer_records`); admitting a rating (:mod:`xinyong.peer.admission`) looks
up two things the subject index reaches only through every record of the people involved:

- the ratings a rater gave on one day (the daily limit): a partial index on
  ``(rater, occurred_at)`` over rating records (migration 0019), one probe per rater and day
  (:func:`ratings_given`);
- the interaction and ratings of an interaction id: a partial index on ``case_id`` over peer
  records (migration 0020), probed through :data:`IS_PEER`.

As in :mod:`xinyong.ledger.related_index`, a planner uses a partial (expression) index only when
the query repeats its expression and its predicate, so both are written once here:
:func:`rater_of`, :data:`IS_RATING` and :data:`IS_PEER`, with the codes as constants (a bound
parameter could not be held to the index's predicate under a generic plan).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, and_, literal_column, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from xinyong.domain.chunks import chunked
from xinyong.domain.peer_records import PEER_PREFIX, RATING
from xinyong.ledger.driver_sql import as_date
from xinyong.ledger.schema import records

__all__ = [
    "CASE_INDEX",
    "CREATE_CASE_INDEX",
    "CREATE_RATER_INDEX",
    "IS_PEER",
    "IS_RATING",
    "RATER_INDEX",
    "RATINGS_GIVEN_PG",
    "rater_of",
    "ratings_given",
]

RATER_INDEX = "ix_records_rater_day"
CASE_INDEX = "ix_records_peer_case"
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
"""A rating record (the rater index's predicate)."""

_FIRST, _AFTER = PEER_PREFIX, PEER_PREFIX[:-1] + chr(ord(PEER_PREFIX[-1]) + 1)
IS_PEER: ColumnElement[bool] = and_(
    records.c.code >= literal_column(f"'{_FIRST}'"), records.c.code < literal_column(f"'{_AFTER}'")
)
"""An interaction or rating record: its code starts with ``peer.`` (the case index's
predicate)."""

CREATE_CASE_INDEX = (
    f"CREATE INDEX {CASE_INDEX} ON records (case_id) WHERE code >= '{_FIRST}' AND code < '{_AFTER}'"
)
"""The case index, on either database (migration 0020)."""

CREATE_RATER_INDEX = {
    dialect: (
        f"CREATE INDEX {RATER_INDEX} ON records (({rater.format(attrs='attrs')}), occurred_at) "
        f"WHERE code = '{RATING}'"
    )
    for dialect, rater in _RATER.items()
}
"""The rater index, per database (migration 0019)."""

RATINGS_GIVEN_PG = text(
    "SELECT p.rater, p.day, (SELECT count(*) FROM records r WHERE r.code = '"
    + RATING
    + "' AND ("
    + _RATER["postgresql"].format(attrs="r.attrs")
    + ") = p.rater AND r.occurred_at = p.day) "
    "FROM unnest(CAST(:raters AS text[]), CAST(:days AS date[])) AS p(rater, day)"
)
"""PostgreSQL: one index probe per (rater, day), a plan that does not depend on statistics. As
one query with two ``IN`` lists the planner, which has no statistics for the expression,
expected a hundred thousand rows, and ran a parallel scan with JIT compilation for a hundred
(27 ms instead of about 1 on the check benchmark's ledger)."""


def ratings_given(conn: Connection, pairs: Iterable[tuple[str, date]]) -> Counter[tuple[str, date]]:
    """How many ratings each rater has given on each day, for the (rater, day) pairs asked
    (pairs with none are left out)."""
    wanted = sorted(set(pairs))
    given: Counter[tuple[str, date]] = Counter()
    r = records.c
    for chunk in chunked(wanted):
        if conn.dialect.name == "postgresql":
            params = {"raters": [rater for rater, _ in chunk], "days": [day for _, day in chunk]}
            for rater, day, count in conn.execute(RATINGS_GIVEN_PG, params):
                if count:
                    given[str(rater), as_date(day)] += int(count)
            continue
        # SQLite plans the two IN lists on the index whatever it knows; the pairs asked for
        # are kept from the lists' product
        asked = set(chunk)
        rater = rater_of(r.attrs)
        query = select(rater, r.occurred_at).where(
            IS_RATING,
            rater.in_(sorted({one for one, _ in chunk})),
            r.occurred_at.in_(sorted({day for _, day in chunk})),
        )
        for found, day in conn.execute(query):
            key = (str(found), as_date(day))
            if key in asked:
                given[key] += 1
    return given
