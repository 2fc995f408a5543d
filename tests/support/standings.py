"""Comparing standings from different evaluators, engines and modes."""

from __future__ import annotations

import pyarrow as pa

from xinyong.scoring.run import STANDINGS_SCHEMA
from xinyong.scoring.standing import Standing

CENT = 0.01 + 1e-9
"""The score tolerance, one cent inclusive: engines add a subject's points in different orders
(Spark merges partial sums across partitions), and a score whose exact sum lies on a rounding tie
can then round one cent apart (72.47 on Spark, 72.48 on DuckDB, found by the differential
tests)."""


def standings_of(table: pa.Table) -> list[Standing]:
    """The rows of a standings table (:data:`~xinyong.scoring.run.STANDINGS_SCHEMA`)."""
    return [
        Standing(
            r["subject_id"],
            r["score"],
            r["grade"],
            tuple(x for x in r["lists"].split(";") if x),
            tuple(x for x in r["measures"].split(";") if x),
        )
        for r in table.cast(STANDINGS_SCHEMA).to_pylist()
    ]


def assert_same(expected: list[Standing], actual: list[Standing], what: str = "") -> None:
    """The same subjects in the same order, each with the same grade, lists and measures and
    the same score within :data:`CENT`."""
    assert [s.subject_id for s in actual] == [s.subject_id for s in expected], what
    for want, got in zip(expected, actual, strict=True):
        assert got.same_as(want, tolerance=CENT), (what, want, got)
