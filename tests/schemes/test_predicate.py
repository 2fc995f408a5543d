"""The predicate language: parsing, errors, and three-valued logic in Python and in SQL."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.strategies import attr_value, predicate
from xinyong.schemes.compile import _predicate
from xinyong.schemes.predicate import (
    Compare,
    In,
    IsNull,
    PredicateError,
    attribute_names,
    evaluate,
    parse_predicate,
)


@pytest.mark.parametrize(
    ("text", "attrs", "expected"),
    [
        ("amount >= 10000", {"amount": 10000}, True),
        ("amount >= 10000", {"amount": 9999.5}, False),
        ("amount >= 10000", {}, None),  # missing: unknown
        ("amount >= 10000", {"amount": None}, None),  # null: unknown
        ("amount >= 10000", {"amount": "20000"}, None),  # string vs number: unknown
        ("not (amount >= 10000)", {}, None),  # not unknown is unknown
        ("amount >= 1 or channel = 'x'", {"channel": "x"}, True),  # unknown or true
        ("amount >= 1 and channel = 'x'", {"channel": "y"}, False),  # unknown and false
        ("amount >= 1 and channel = 'x'", {"channel": "x"}, None),
        ("channel in ('a', 'b')", {"channel": "b"}, True),
        ("channel in ('a', 1)", {"channel": "b"}, None),  # b = 1 is unknown
        ("channel not in ('a', 'b')", {"channel": "c"}, True),
        ("channel is null", {}, True),
        ("channel is null", {"channel": None}, True),
        ("channel is not null", {"channel": ""}, True),
        ("flag = true", {"flag": True}, True),
        ("flag = 1", {"flag": True}, None),  # boolean vs number: unknown
        ("name = 'O''Brien'", {"name": "O'Brien"}, True),
        ("10000 <= amount", {"amount": 10000}, True),
        ("AMOUNT > 1 AND NOT flag = FALSE", {"AMOUNT": 2, "flag": True}, True),
        ("a <> 1", {"a": 2}, True),
    ],
)
def test_three_valued_logic(text: str, attrs: dict[str, Any], expected: bool | None) -> None:
    assert evaluate(parse_predicate(text), attrs) is expected


def test_parse_shapes() -> None:
    assert parse_predicate("5 < z") == Compare("z", ">", 5.0)
    assert parse_predicate("x not in (1, 'a')") == In("x", (1.0, "a"), negated=True)
    assert parse_predicate("x is not null") == IsNull("x", negated=True)
    node = parse_predicate("a = 1 or b = 2 and not c is null")
    assert list(attribute_names(node)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("amount >", 9),
        ("amount = = 1", 10),
        ("a = 'x", 5),
        ("(a = 1", 7),
        ("a in 1", 6),
        ("", 1),
        ("and", 1),
        ("a = 1 b", 7),
        ("a ~ 1", 3),
        ("a is 1", 6),
    ],
)
def test_parse_errors_give_positions(text: str, column: int) -> None:
    with pytest.raises(PredicateError) as info:
        parse_predicate(text)
    assert info.value.column == column


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


@settings(max_examples=300, deadline=None)
@given(
    text=predicate,
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["amount", "channel", "flag", "n"]), attr_value, max_size=4
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_sql_agrees_with_python(
    con: ibis.BaseBackend, text: str, rows: list[dict[str, Any]]
) -> None:
    node = parse_predicate(text)
    table = pa.table(
        {
            "i": list(range(len(rows))),
            "attrs": [orjson.dumps(r).decode() for r in rows],
        }
    )
    t = ibis.memtable(table)
    expr = t.select(t.i, v=_predicate(node, t.attrs.cast(dt.JSON(binary=True)))).order_by("i")
    got = [row["v"] for row in con.to_pyarrow(expr).to_pylist()]
    assert got == [evaluate(node, r) for r in rows]


@pytest.mark.parametrize(
    "text",
    [
        "amount in (" + ", ".join(str(n) for n in range(256)) + ")",
        " or ".join(f"amount = {n}" for n in range(256)),
        " and ".join(f"amount != {n}" for n in range(256)),
        "(" * 32 + "amount = 5" + ")" * 32,
        "not " * 32 + "amount = 5",
    ],
)
def test_the_largest_predicates_compile_and_agree(con: ibis.BaseBackend, text: str) -> None:
    node = parse_predicate(text)
    rows = [{"amount": 5}, {"amount": 300}, {}, {"amount": "5"}]
    table = ibis.memtable(
        pa.table({"i": list(range(len(rows))), "attrs": [orjson.dumps(r).decode() for r in rows]})
    )
    expr = table.select(
        table.i, v=_predicate(node, table.attrs.cast(dt.JSON(binary=True)))
    ).order_by("i")
    assert [row["v"] for row in con.to_pyarrow(expr).to_pylist()] == [
        evaluate(node, r) for r in rows
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount in (" + ", ".join(str(n) for n in range(257)) + ")", "more than 256 comparisons"),
        ("(" * 33 + "amount = 5" + ")" * 33, "nested more than 32 levels deep"),
        ("not " * 33 + "amount = 5", "nested more than 32 levels deep"),
        ("(" * 3000 + "amount = 5" + ")" * 3000, "nested more than 32 levels deep"),
    ],
)
def test_larger_predicates_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PredicateError, match=message):
        parse_predicate(text)
