"""The same records give the same standings however they arrive.

Hypothesis draws a scheme (every feature, :mod:`tests.support.strategies`), records (some in the
future, some past their code's display period) and a catalog giving each code a maximum display
period. The records are written as CSV, JSON Lines and Parquet and scored from each file, and
ingested into a SQLite ledger and a PostgreSQL ledger and scored there, on every engine
(DuckDB, the Python reference, PostgreSQL in place, Spark): every way gives the reference's
standings from the CSV file. That covers the catalog's display periods in every mode and the one
rule for which subjects are scored (every subject a record names, whatever its date).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.postgres import reset_pg
from tests.support.standings import assert_same, standings_of
from tests.support.strategies import AS_OF, CODES, SUBJECTS, records, schemes
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.ingest.files import ingest_records
from xinyong.ledger.database import open_database
from xinyong.schemes.model import Scheme
from xinyong.scoring.ledger_run import score_ledger
from xinyong.scoring.run import Engine, score_file
from xinyong.scoring.standing import Standing

if TYPE_CHECKING:
    from xinyong.engines.spark import SparkEngine

TODAY = date(2025, 1, 1)
"""Ingest's today: after every record the strategies draw."""

periods = st.dictionaries(
    st.sampled_from(CODES), st.sampled_from([7, 30, 90, 200, 365, 1095, 3650]), max_size=9
)
"""Maximum display periods in days; a code not drawn gets its tier's (general: one year)."""


def _catalog(folder: Path, days: dict[str, int]) -> Catalog:
    entries = [
        f'[[codes]]\ncode = "{code}"\ndescription = "test"\ncategory = "test"\n'
        f'severity = "general"\nlegal_basis = "test"\nmin_display = "0d"\n'
        + (f'max_display = "{days[code]}d"\n' if code in days else "")
        for code in CODES
    ]
    text = (
        'version = "test"\ntitle = "test"\n'
        '[tiers.minor]\nmin_display = "0d"\nmax_display = "90d"\n'
        '[tiers.general]\nmin_display = "0d"\nmax_display = "1y"\n'
        '[tiers.serious]\nmin_display = "0d"\nmax_display = "3y"\n' + "\n".join(entries)
    )
    path = folder / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


def _valid_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with subject ids that ingest accepts for their kinds (the strategies' short
    ids are not identifiers); the resident IDs around the eighteenth birthday stay."""
    ids: dict[str, str] = {}
    for n, subject in enumerate(SUBJECTS, start=1):
        kind = next((r["subject_kind"] for r in rows if r["subject_id"] == subject), "person")
        if kind == "organization":
            ids[subject] = synthetic_uscc(3702, n)
        elif len(subject) == 18:
            ids[subject] = subject
        else:
            ids[subject] = synthetic_resident_id(3703, date(1980, 1, n), n)
    return [{**row, "subject_id": ids[row["subject_id"]]} for row in rows]


def _write(folder: Path, rows: list[dict[str, Any]]) -> dict[str, Path]:
    """The rows as CSV, JSON Lines and Parquet files (``attrs`` as JSON text, but as an object
    in JSON Lines)."""
    as_text = [{**row, "attrs": orjson.dumps(row["attrs"]).decode()} for row in rows]
    paths = {fmt: folder / f"records.{fmt}" for fmt in ("csv", "jsonl", "parquet")}
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=RECORDS_SCHEMA.names)
        writer.writeheader()
        writer.writerows(as_text)
    with paths["jsonl"].open("wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row) + b"\n")
    pq.write_table(pa.Table.from_pylist(as_text, schema=RECORDS_SCHEMA), paths["parquet"])
    return paths


any_scheme = st.one_of(schemes(), schemes(attributed=True))
"""Schemes with every feature, and ones whose rules read points and terms from the records."""


@dataclass(frozen=True)
class _Case:
    """One example written out: the scheme, the files, the catalog, and the reference's
    standings from the CSV file."""

    model: Scheme
    folder: Path
    catalog: Catalog
    paths: dict[str, Path]
    rows: int
    expected: list[Standing]


@contextmanager
def _case(
    scheme: dict[str, Any], drawn: list[dict[str, Any]], days: dict[str, int]
) -> Iterator[_Case]:
    """The example in a new folder (function-scoped fixtures outlive hypothesis's examples)."""
    model = Scheme.model_validate(scheme)
    rows = _valid_ids(drawn)
    with tempfile.TemporaryDirectory(prefix="xinyong-file-ledger-") as name:
        folder = Path(name)
        catalog = _catalog(folder, days)
        paths = _write(folder, rows)
        yield _Case(model, folder, catalog, paths, len(rows), _expected(model, paths, catalog))


def _expected(model: Scheme, paths: dict[str, Path], catalog: Catalog) -> list[Standing]:
    return standings_of(score_file(model, paths["csv"], AS_OF, Engine.PYTHON, catalog=catalog))


def _ledger(url: str, paths: dict[str, Path], catalog: Catalog, rows: int) -> None:
    engine = open_database(url)
    try:
        report = ingest_records(engine, paths["jsonl"], catalog, today=TODAY)
    finally:
        engine.dispose()
    assert not report.rejects, report.rejects
    assert report.accepted == rows


def _from_ledger(url: str, model: Scheme, engine: Engine, catalog: Catalog) -> list[Standing]:
    db = open_database(url)
    try:
        with db.connect() as conn, conn.begin():
            table, _ = score_ledger(conn, model, AS_OF, engine, catalog)
    finally:
        db.dispose()
    return standings_of(table)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=any_scheme, drawn=records(), days=periods)
def test_files_and_a_sqlite_ledger_agree(
    scheme: dict[str, Any], drawn: list[dict[str, Any]], days: dict[str, int]
) -> None:
    with _case(scheme, drawn, days) as case:
        model, catalog, paths, expected = case.model, case.catalog, case.paths, case.expected
        for fmt, path in paths.items():
            for engine in (Engine.DUCKDB, Engine.PYTHON):
                found = standings_of(score_file(model, path, AS_OF, engine, catalog=catalog))
                assert_same(expected, found, f"{fmt} file on {engine.value}")
        url = f"sqlite:///{case.folder / 'ledger.db'}"
        _ledger(url, paths, catalog, case.rows)
        for engine in (Engine.DUCKDB, Engine.PYTHON):
            assert_same(expected, _from_ledger(url, model, engine, catalog), f"ledger {engine}")


UNDERFLOW = {
    "id": "gen",
    "name": "generated",
    "base": 0.0,
    "grades": [{"name": "A"}],
    "rules": [
        {
            "id": "r0",
            "match": "*",
            "points": {"per": "n", "each": -0.125, "max_units": 3.0},
            "valid_for": "2y",
            "decay": "linear",
        }
    ],
    "lists": [],
    "measures": [],
}
"""A rule whose product with a subnormal number of units rounds to 0 (an error in PostgreSQL
before units below the smallest normal double counted as 0)."""
TINY_UNITS = [
    {
        "record_id": f"R{i}",
        "source": "test",
        "subject_id": "s1",
        "subject_kind": "person",
        "code": "court.defaulter",
        "occurred_at": AS_OF - timedelta(days=30),
        "case_id": None,
        "attrs": {"n": units},
    }
    for i, units in enumerate([5e-324, 1e-310, 2.5])
]


@pytest.mark.postgres
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=any_scheme, drawn=records(), days=periods)
@example(scheme=UNDERFLOW, drawn=TINY_UNITS, days={})
def test_a_postgresql_ledger_agrees_with_the_file(
    pg_server_url: str,
    scheme: dict[str, Any],
    drawn: list[dict[str, Any]],
    days: dict[str, int],
) -> None:
    with _case(scheme, drawn, days) as case:
        model, catalog, paths, expected = case.model, case.catalog, case.paths, case.expected
        reset_pg(pg_server_url)
        _ledger(pg_server_url, paths, catalog, case.rows)
        for engine in (Engine.DUCKDB, Engine.PYTHON, Engine.POSTGRES):
            found = _from_ledger(pg_server_url, model, engine, catalog)
            assert_same(expected, found, f"postgresql ledger on {engine.value}")


@pytest.mark.spark
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=any_scheme, drawn=records(), days=periods)
def test_spark_agrees_on_files_and_ledgers(
    spark: SparkEngine,
    pg_server_url: str,
    scheme: dict[str, Any],
    drawn: list[dict[str, Any]],
    days: dict[str, int],
) -> None:
    with _case(scheme, drawn, days) as case:
        model, catalog, paths, expected = case.model, case.catalog, case.paths, case.expected
        for fmt in ("parquet", "csv"):  # scanned in place, and read into Arrow
            found = score_file(model, paths[fmt], AS_OF, Engine.SPARK, catalog=catalog)
            assert_same(expected, standings_of(found), f"{fmt} file on spark")
        reset_pg(pg_server_url)
        _ledger(pg_server_url, paths, catalog, case.rows)
        found_pg = _from_ledger(pg_server_url, model, Engine.SPARK, catalog)
        assert_same(expected, found_pg, "postgresql ledger on spark")
