"""The compiled relational engine and the reference evaluator agree on every scheme.

Hypothesis generates schemes using every feature (prefix and ``*`` matches, caps, linear decay,
clearing, vetoes, predicates with nulls, ``not`` and ``in``, floors and ceilings, points and
terms read from the records' attributes) and records
with missing attributes, mistyped values and shared case ids; the two evaluators must give the
same score (within one cent), grade, lists and measures for every subject, in records-file mode and
in ledger mode (every registered subject, with or without records).

The same expression on Spark (tests marked ``spark``, on the run's one session) must give DuckDB's
standings (the score up to a rounding tie summed in another order), and so agree with the
reference too. A Spark query costs about a second of
planning and scheduling, so it gets fewer examples.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.standings import CENT, assert_same, standings_of
from tests.support.strategies import AS_OF, MONTH_ENDS, SUBJECTS, records, schemes
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.domain.records import InputRecord
from xinyong.engines.duckdb import score_table
from xinyong.schemes.model import Scheme
from xinyong.scoring.reference import score_records
from xinyong.scoring.run import STANDINGS_SCHEMA

if TYPE_CHECKING:
    from xinyong.engines.spark import SparkEngine


def spark_score_table(
    engine: SparkEngine,
    scheme: Scheme,
    records: pa.Table,
    as_of: Any,
    subjects: pa.Table | None = None,
) -> pa.Table:
    """:func:`xinyong.engines.spark.score_table`, imported when a Spark test runs."""
    from xinyong.engines.spark import score_table as on_spark

    return on_spark(engine, scheme, records, as_of, subjects)


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    data = [
        {**row, "attrs": orjson.dumps(row["attrs"], option=orjson.OPT_SORT_KEYS).decode()}
        for row in rows
    ]
    return pa.Table.from_pylist(data, schema=RECORDS_SCHEMA)


def _inputs(rows: list[dict[str, Any]]) -> list[InputRecord]:
    return [InputRecord(**row) for row in rows]


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), rows=records())
def test_engines_agree_on_records(
    con: ibis.BaseBackend, scheme: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    model = Scheme.model_validate(scheme)
    expected = score_records(model, _inputs(rows), AS_OF)
    actual = standings_of(score_table(model, _arrow(rows), AS_OF, con=con))
    assert_same(expected, actual)


def _registered(model: Scheme, rows: list[dict[str, Any]]) -> tuple[pa.Table, dict[str, str]]:
    """Every test subject registered (kind from its records, else person), and those of the
    scheme's kinds, with their kinds."""
    kinds = {row["subject_id"]: row["subject_kind"] for row in rows}
    registered = [{"subject_id": s, "kind": kinds.get(s, "person")} for s in SUBJECTS]
    chosen = {s["subject_id"]: s["kind"] for s in registered if s["kind"] in model.subject_kinds}
    subjects = pa.Table.from_pylist(
        registered, schema=pa.schema([("subject_id", pa.string()), ("kind", pa.string())])
    )
    return subjects, chosen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), rows=records())
def test_engines_agree_in_ledger_mode(
    con: ibis.BaseBackend, scheme: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    model = Scheme.model_validate(scheme)
    subjects, chosen = _registered(model, rows)
    expected = score_records(model, _inputs(rows), AS_OF, subjects=chosen)
    actual = standings_of(score_table(model, _arrow(rows), AS_OF, subjects, con=con))
    assert_same(expected, actual)


def _agree_in_both_modes(
    con: ibis.BaseBackend, model: Scheme, rows: list[dict[str, Any]], as_of: date
) -> None:
    """The reference and DuckDB give the same standings, in records-file and in ledger mode."""
    expected = score_records(model, _inputs(rows), as_of)
    assert_same(expected, standings_of(score_table(model, _arrow(rows), as_of, con=con)))
    subjects, chosen = _registered(model, rows)
    expected = score_records(model, _inputs(rows), as_of, subjects=chosen)
    assert_same(expected, standings_of(score_table(model, _arrow(rows), as_of, subjects, con=con)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), as_of=st.sampled_from(MONTH_ENDS), data=st.data())
def test_calendar_terms_agree_at_month_ends(
    con: ibis.BaseBackend, scheme: dict[str, Any], as_of: date, data: st.DataObject
) -> None:
    """Calendar months and years as of month ends and 29 February, with records dated where
    the terms end: both evaluators, in records-file and in ledger mode."""
    _agree_in_both_modes(con, Scheme.model_validate(scheme), data.draw(records(as_of)), as_of)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=schemes(attributed=True),
    as_of=st.sampled_from([AS_OF, *MONTH_ENDS]),
    data=st.data(),
)
def test_terms_and_points_from_attributes_agree(
    con: ibis.BaseBackend, scheme: dict[str, Any], as_of: date, data: st.DataObject
) -> None:
    """``valid_for = {attr ...}`` and ``points = {per ...}``: whole, fractional, negative,
    missing and mistyped values, terms at and past ``max``, units past ``max_units``; both
    evaluators, in records-file and in ledger mode."""
    _agree_in_both_modes(con, Scheme.model_validate(scheme), data.draw(records(as_of)), as_of)


def _identical(spark_result: pa.Table, duckdb_result: pa.Table) -> None:
    """Spark's standings are DuckDB's: same rows, grades, lists and measures, and the same score
    up to a rounding tie summed in another order (:data:`CENT`)."""
    got = spark_result.cast(STANDINGS_SCHEMA).to_pylist()
    want = duckdb_result.cast(STANDINGS_SCHEMA).to_pylist()
    assert [{**row, "score": None} for row in got] == [{**row, "score": None} for row in want]
    for g, w in zip(got, want, strict=True):
        scores = g["score"], w["score"]
        same_score = scores[0] == scores[1] or (
            None not in scores and abs(scores[0] - scores[1]) <= CENT
        )
        assert same_score, (g, w)


@pytest.mark.spark
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), rows=records())
def test_spark_matches_duckdb_on_records(
    spark: SparkEngine, con: ibis.BaseBackend, scheme: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    model = Scheme.model_validate(scheme)
    on_spark = spark_score_table(spark, model, _arrow(rows), AS_OF)
    _identical(on_spark, score_table(model, _arrow(rows), AS_OF, con=con))
    assert_same(score_records(model, _inputs(rows), AS_OF), standings_of(on_spark))


@pytest.mark.spark
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(attributed=True), rows=records())
def test_spark_matches_duckdb_on_attributed_terms_and_points(
    spark: SparkEngine, con: ibis.BaseBackend, scheme: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    model = Scheme.model_validate(scheme)
    on_spark = spark_score_table(spark, model, _arrow(rows), AS_OF)
    _identical(on_spark, score_table(model, _arrow(rows), AS_OF, con=con))


@pytest.mark.spark
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), rows=records())
def test_spark_matches_duckdb_in_ledger_mode(
    spark: SparkEngine, con: ibis.BaseBackend, scheme: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    model = Scheme.model_validate(scheme)
    subjects, chosen = _registered(model, rows)
    on_spark = spark_score_table(spark, model, _arrow(rows), AS_OF, subjects)
    _identical(on_spark, score_table(model, _arrow(rows), AS_OF, subjects, con=con))
    expected = score_records(model, _inputs(rows), AS_OF, subjects=chosen)
    assert_same(expected, standings_of(on_spark))
