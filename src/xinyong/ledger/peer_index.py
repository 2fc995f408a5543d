"""The ledger's indexes of peer records: ratings by rater and day, peer records by interaction.

Interactions and ratings are records about one person naming the other in ``attrs``
(:mod:`xinyong.domain.peer_records`); admitting a rating (:mod:`xinyong.peer.admission`) looks
up two things the subject index reaches only through every record of the people involved:

- the ratings a rater gave on one day (the daily limit): a partial index on
  ``(rater, occurred_at)`` over rating records (migration 0019), one probe per rater and day
  (:func:`ratings_given`);
- the interaction and ratings of an interaction id: a partial index on ``case_id`` over peer
  records (migrations 0020 and 0021), probed through :data:`IS_PEER`.

A planner uses a partial (expression) index only when the query repeats its expression and its
predicate, so both are written once here (from :mod:`xinyong.ledger.partial_index`):
:class:`rater_of`, :data:`IS_RATING` and :data:`IS_PEER`, with the codes as constants.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from sqlalchemy import ColumnElement, Connection, literal_column, select, text

from xinyong.domain.chunks import chunked
from xinyong.domain.peer_records import PEER_CODES, RATING
from xinyong.ledger.driver_sql import as_date
from xinyong.ledger.partial_index import AttrsField, attrs_field_sql, code_among
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


class rater_of(AttrsField):
    """The rater a record's ``attrs`` name, as the index computes it."""

    field = "rater"
    inherit_cache = True


IS_RATING: ColumnElement[bool] = records.c.code == literal_column(f"'{RATING}'")
"""A rating record (the rater index's predicate)."""

IS_PEER, _PEER_WHERE = code_among(PEER_CODES)
"""An interaction or rating record (the case index's predicate)."""

CREATE_CASE_INDEX = f"CREATE INDEX {CASE_INDEX} ON records (case_id) WHERE {_PEER_WHERE}"
"""The case index, on either database (migration 0021; 0020 had a range of codes)."""

CREATE_RATER_INDEX = {
    dialect: (
        f"CREATE INDEX {RATER_INDEX} ON records ({attrs_field_sql(dialect, 'attrs', 'rater')}, "
        f"occurred_at) WHERE code = '{RATING}'"
    )
    for dialect in ("sqlite", "postgresql")
}
"""The rater index, per database (migration 0019)."""

RATINGS_GIVEN_PG = text(
    f"SELECT p.rater, p.day, (SELECT count(*) FROM records r WHERE r.code = '{RATING}' AND "
    f"{attrs_field_sql('postgresql', 'r.attrs', 'rater')} = p.rater AND r.occurred_at = p.day) "
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
