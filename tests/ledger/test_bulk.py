"""Bulk inserts: PostgreSQL's binary ``COPY`` stores exactly what the text format stores."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors

from tests.support.postgres import reset_pg
from xinyong.ledger.bulk import binary_types, insert_rows
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import records, standings, subjects

RECORD_COLUMNS = tuple(column.name for column in records.columns)

# Text PostgreSQL can hold: no NUL, no lone surrogates (Python cannot encode them either way).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


@pytest.fixture(scope="module")
def pg_engine(pg_server_url: str) -> Iterator[sa.Engine]:
    reset_pg(pg_server_url)
    engine = open_database(pg_server_url)
    yield engine
    engine.dispose()


def _stored(
    engine: sa.Engine,
    table: sa.Table,
    columns: Sequence[str],
    rows: list[tuple[object, ...]],
    *,
    binary: bool,
) -> list[tuple[object, ...]]:
    """The rows as PostgreSQL holds them after one ``COPY``, in the given format (rolled back)."""
    with engine.connect() as conn, conn.begin() as transaction:
        insert_rows(conn, table, columns, rows, binary=binary)
        key = [table.c[name] for name in columns[:2]]
        stored = conn.execute(sa.select(*(table.c[c] for c in columns)).order_by(*key)).all()
        transaction.rollback()
    return [tuple(row) for row in stored]


@st.composite
def record_rows(draw: st.DrawFn) -> list[tuple[object, ...]]:
    count = draw(st.integers(1, 8))
    return [
        (
            position,
            draw(TEXT.map(lambda t: t[:64])),
            f"{draw(TEXT)}#{position}",
            draw(TEXT),
            draw(st.sampled_from(["person", "organization"])),
            draw(st.sampled_from(["court.defaulter", "peer.rating", "relation.spouse", "x"])),
            draw(st.dates(date(1, 1, 1), date(9999, 12, 31))),
            draw(st.none() | TEXT),
            json.dumps(draw(st.dictionaries(TEXT, TEXT | st.integers())), ensure_ascii=False),
            draw(st.none() | TEXT),
            draw(TEXT.map(lambda t: t[:32])),
            draw(st.binary(min_size=0, max_size=40)),
        )
        for position in range(count)
    ]


@pytest.mark.postgres
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=record_rows())
def test_binary_copy_stores_what_the_text_copy_stores(
    pg_engine: sa.Engine, rows: list[tuple[object, ...]]
) -> None:
    assert binary_types(records, RECORD_COLUMNS) is not None
    text = _stored(pg_engine, records, RECORD_COLUMNS, rows, binary=False)
    assert _stored(pg_engine, records, RECORD_COLUMNS, rows, binary=True) == text
    assert text == rows  # and both are what was sent


@pytest.mark.postgres
def test_scores_of_every_numeric_type_are_stored_alike(pg_engine: sa.Engine) -> None:
    """Scores reach ``standings`` as ints, floats, Decimals or numpy floats."""
    columns = ("run_id", "subject_id", "score", "grade", "lists", "measures", "adverse")
    scores: list[object] = [1000, -3, 0.1, 2.5e300, Decimal("0.1"), Decimal("12.345"),
                            np.float64(7.25), np.int64(42)]  # fmt: skip
    rows: list[tuple[object, ...]] = [
        ("run", f"s{i}", score, "A", "", "", None) for i, score in enumerate(scores)
    ]
    binary = _stored(pg_engine, standings, columns, rows, binary=True)
    assert binary == _stored(pg_engine, standings, columns, rows, binary=False)
    assert [row[2] for row in binary] == [float(s) for s in scores]  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.parametrize("binary", [False, True])
def test_a_value_too_long_for_its_column_is_refused_in_either_format(
    pg_engine: sa.Engine, binary: bool
) -> None:
    row = (0, "s" * 65, "r", "p", "person", "c", date(2024, 1, 2), None, "{}", None, "t", b"h")
    with pytest.raises(errors.StringDataRightTruncation):  # the driver's own COPY error
        _stored(pg_engine, records, RECORD_COLUMNS, [row], binary=binary)


def test_the_binary_format_is_used_only_for_types_it_knows() -> None:
    assert binary_types(subjects, ("position", "subject_id", "leaf_hash")) == (
        "int8", "varchar", "bytea",
    )  # fmt: skip
    odd = sa.Table("odd", sa.MetaData(), sa.Column("n", sa.Numeric(10, 2)), sa.Column("t", sa.Text))
    assert binary_types(odd, ("t",)) == ("text",)
    assert binary_types(odd, ("n", "t")) is None
