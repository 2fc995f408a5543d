"""``--engine spark``: the compiled schemes on the run's Spark session, against DuckDB.

Every test here shares one ``local[2]`` session (the ``spark`` fixture); the CLI finds it
through :func:`xinyong.engines.spark.spark_engine`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import xinyong.engines.spark as spark_module
from tests.support.batch_fixtures import AS_OF, bad_dataset, runner, score_cli, synthetic_ledger
from xinyong.cli.app import app
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.engines.duckdb import score_table as duckdb_score_table
from xinyong.engines.spark import SparkEngine, score_table
from xinyong.engines.spark_settings import jdbc_jar
from xinyong.pilots import bundled_pilots
from xinyong.schemes.model import Scheme

pytestmark = pytest.mark.spark


def test_pilots_on_a_partitioned_export(spark: SparkEngine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    synthetic_ledger(url, tmp_path)
    parts = tmp_path / "parts"
    exported = runner.invoke(
        app, ["export", "--out", str(parts), "--as-of", AS_OF, "--partitions", "3", "--db", url]
    )
    assert exported.exit_code == 0, exported.output
    for pilot, path in sorted(bundled_pilots().items()):
        args = (str(path), "--records", str(parts), "--as-of", AS_OF)
        on_spark = score_cli(*args, "--engine", "spark", "--out", str(tmp_path / "s.csv"))
        on_duckdb = score_cli(*args, "--out", str(tmp_path / "d.csv"))
        assert on_spark == on_duckdb, pilot
        assert on_spark, pilot


def test_executors_write_the_standings(spark: SparkEngine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    synthetic_ledger(url, tmp_path)
    export = tmp_path / "export.parquet"
    assert runner.invoke(app, ["export", "--out", str(export), "--db", url]).exit_code == 0
    args = [str(bundled_pilots()["rongcheng"]), "--records", str(export), "--as-of", AS_OF]
    collected = score_cli(*args, "--engine", "spark", "--out", str(tmp_path / "s.csv"))
    out = tmp_path / "standings"
    result = runner.invoke(app, ["score", *args, "--engine", "spark", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{len(collected):,} standings" in result.output
    written = pq.read_table(sorted(out.glob("*.parquet"))).sort_by("subject_id").to_pylist()
    assert [r["subject_id"] for r in written] == [r["subject_id"] for r in collected]
    for row, want in zip(written, collected, strict=True):
        assert (f"{row['score']:g}", row["grade"], row["lists"], row["measures"]) == (
            want["score"],
            want["grade"],
            want["lists"],
            want["measures"],
        )


def test_executors_never_replace_a_foreign_directory(tmp_path: Path) -> None:
    records = tmp_path / "records.parquet"
    pq.write_table(pa.table({"subject_id": ["s1"]}), records)
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    scheme = str(bundled_pilots()["rongcheng"])
    result = runner.invoke(
        app,
        ["score", scheme, "--records", str(records), "--as-of", AS_OF, "--engine", "spark"]
        + ["--out", str(out)],
    )
    assert result.exit_code == 2
    assert "not replaced" in result.output
    assert (out / "notes.txt").read_text() == "keep me"


def test_ledger_mode(
    spark: SparkEngine, ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite is read here and handed over as Arrow; PostgreSQL is read by Spark over JDBC."""
    synthetic_ledger(ledger_url, tmp_path)
    over_jdbc: list[int] = []
    original = spark_module.score_ledger_jdbc

    def spy(*args: Any, **kwargs: Any) -> pa.Table:
        over_jdbc.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(spark_module, "score_ledger_jdbc", spy)
    for pilot in ("rongcheng", "tax-credit", "nosedive-gate"):
        args = (str(bundled_pilots()[pilot]), "--db", ledger_url, "--as-of", AS_OF)
        on_spark = score_cli(*args, "--engine", "spark", "--out", str(tmp_path / "s.csv"))
        on_duckdb = score_cli(*args, "--out", str(tmp_path / "d.csv"))
        assert on_spark == on_duckdb, pilot
    postgres = ledger_url.startswith("postgresql")
    if postgres and jdbc_jar() is None:
        pytest.skip("no PostgreSQL JDBC jar (apt-get install libpostgresql-jdbc-java)")
    assert over_jdbc == ([1, 1, 1] if postgres else [])


def test_a_scanned_dataset_with_bad_rows_is_refused(spark: SparkEngine, tmp_path: Path) -> None:
    data = bad_dataset(tmp_path / "bad")
    scheme = str(bundled_pilots()["rongcheng"])
    result = runner.invoke(
        app, ["score", scheme, "--records", str(data), "--as-of", AS_OF, "--engine", "spark"]
    )
    assert result.exit_code == 2
    assert "subject_kind: must be person or organization: 2 row(s) (first record_id b1)" in (
        result.output
    )


def test_a_file_spark_cannot_read_is_refused_in_one_line(
    spark: SparkEngine, tmp_path: Path
) -> None:
    """Not a Python traceback of py4j's error: the file named, and Spark's innermost cause."""
    data = tmp_path / "records.parquet"
    data.write_text("not parquet at all\n")
    scheme = str(bundled_pilots()["rongcheng"])
    result = runner.invoke(
        app, ["score", scheme, "--records", str(data), "--as-of", AS_OF, "--engine", "spark"]
    )
    assert result.exit_code == 2, result.output
    assert "not readable" in result.output
    assert "is not a Parquet file" in result.output
    assert "Traceback" not in result.output


# Values that look alike in JSON text but differ in type; the predicate language compares by
# type, and a key holding JSON null "is null".
JSON_SCHEME = {
    "id": "json-types",
    "name": "JSON types",
    "base": 0,
    "grades": [{"name": "ANY"}],
    "rules": [
        {"id": "n-ge-2", "match": "*", "points": 1, "when": "n >= 2"},
        {"id": "n-text", "match": "*", "points": 10, "when": "n = '10000'"},
        {"id": "n-null", "match": "*", "points": 100, "when": "n is null"},
        {"id": "flag", "match": "*", "points": 1000, "when": "flag = true"},
        {"id": "word", "match": "*", "points": 10000, "when": "word = 'null'"},
    ],
}
# attrs -> points, worked out from the rules above by hand
JSON_CASES = [
    ({"n": 2.5}, 1),  # a decimal number: n >= 2
    ({"n": 1e5}, 1),  # an exponent: a number
    ({"n": 10000}, 1),  # the number, not the text '10000'
    ({"n": "10000"}, 10),  # the text: not >= 2 (unknown), equal to '10000'
    ({"n": None}, 100),  # JSON null is null
    ({}, 100),  # so is a missing key
    ({"n": 1, "flag": 1}, 0),  # 1 is not true
    ({"n": 1, "flag": True}, 1000),
    ({"n": 1, "word": "null"}, 10000),  # the text 'null' is a string, not null
    ({"n": 1, "word": None}, 0),
]


def test_json_attributes_keep_their_types(spark: SparkEngine) -> None:
    rows = [
        {
            "record_id": f"r{i}",
            "source": "test",
            "subject_id": f"s{i:02d}",
            "subject_kind": "person",
            "code": "civic.blood_donation",
            "occurred_at": date(2025, 1, 1),
            "case_id": None,
            "attrs": orjson.dumps(attrs).decode(),
        }
        for i, (attrs, _) in enumerate(JSON_CASES)
    ]
    records = pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA)
    scheme = Scheme.model_validate(JSON_SCHEME)
    as_of = date(2025, 6, 30)
    scores = score_table(spark, scheme, records, as_of).column("score").to_pylist()
    assert scores == [float(points) for _, points in JSON_CASES]
    assert duckdb_score_table(scheme, records, as_of).column("score").to_pylist() == scores


def test_show_sql_for_spark(tmp_path: Path) -> None:
    scheme = str(bundled_pilots()["rongcheng"])
    result = runner.invoke(
        app,
        ["score", scheme, "--records", str(tmp_path), "--as-of", AS_OF, "--engine", "spark"]
        + ["--show-sql"],
    )
    assert result.exit_code == 0, result.output
    spark_sql = result.output.split("-- spark", 1)[1]
    assert "PARSE_JSON" in spark_sql
    assert "CAST(1000.0 AS DOUBLE)" in spark_sql  # ANSI mode: float literals as doubles


def test_spark_options_need_the_spark_engine(tmp_path: Path) -> None:
    scheme = str(bundled_pilots()["rongcheng"])
    args = ["score", scheme, "--records", str(tmp_path), "--as-of", AS_OF]
    result = runner.invoke(app, [*args, "--spark-master", "local[1]"])
    assert result.exit_code == 2
    assert "go with --engine spark" in result.output
    bad = runner.invoke(app, [*args, "--engine", "spark", "--spark-conf", "nonsense"])
    assert bad.exit_code == 2
    assert "expected KEY=VALUE" in bad.output
