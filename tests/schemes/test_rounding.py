"""The compiled engines round exactly like Python's ``round(x, 2)``, on DuckDB and PostgreSQL."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.schemes.compile import _round_2dp
from xinyong.scoring.standing import round_score

HARD = [
    2.675,
    8.345,
    0.125,
    -0.125,
    0.375,
    1.005,
    999.995,
    1000.005,
    -2.675,
    1e-9,
    0.0,
    -0.0,
    123456.785,
    0.285,
    1.115,
    4.355,
    1015.4794520547945,
    2**40 + 0.125,
]


def _rounded(con: ibis.BaseBackend, values: list[float]) -> list[float]:
    t = ibis.memtable(pa.table({"i": list(range(len(values))), "x": values}))
    expr = t.select(t.i, r=_round_2dp(t.x)).order_by("i")
    return [row["r"] for row in con.to_pyarrow(expr).to_pylist()]


@pytest.fixture(scope="module")
def duck() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def test_hard_cases_duckdb(duck: ibis.BaseBackend) -> None:
    assert _rounded(duck, HARD) == [round(x, 2) for x in HARD]
    assert round_score(-0.001) == 0.0


@pytest.mark.postgres
def test_hard_cases_postgres(pg_server_url: str) -> None:
    url = pg_server_url.split("@", 1)[1]
    host_port, database = url.split("/", 1)
    con = ibis.postgres.connect(host=host_port.split(":")[0], user="postgres", database=database)
    try:
        assert _rounded(con, HARD) == [round(x, 2) for x in HARD]
    finally:
        con.disconnect()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-1e7, 1e7, allow_nan=False),
            st.integers(-(10**9), 10**9).map(lambda n: n / 1000),
            st.integers(-(10**7), 10**7).map(lambda n: n / 8),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_matches_python_round(duck: ibis.BaseBackend, values: list[float]) -> None:
    assert _rounded(duck, values) == [round(x, 2) for x in values]
