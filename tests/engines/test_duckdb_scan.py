"""DuckDB's own scan of Parquet records gives what the engine-neutral scan (Spark's) gives."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.peer_rows import DOC_10_1_SCHEME
from tests.support.strategies import AS_OF, records, schemes
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.domain.identifiers import canonical_subject_id, synthetic_resident_id
from xinyong.domain.record_table import RecordsFileError
from xinyong.engines import duckdb as duckdb_engine
from xinyong.engines.duckdb_scan import score_scan
from xinyong.ingest.files import ingest_records
from xinyong.ledger.database import open_database
from xinyong.schemes.load import load_scheme, parse_scheme
from xinyong.schemes.model import Scheme
from xinyong.scoring.as_ingested import displayed_expr, named_subjects_expr
from xinyong.scoring.records_scan import check_records, normalised_records
from xinyong.scoring.run import STANDINGS_SCHEMA, Engine, score_file

CATALOG = load_catalog()


def _reference(scheme: Scheme, path: Path, as_of: date, catalog: Catalog | None) -> pa.Table:
    """The engine-neutral scan on DuckDB, through Ibis (what Spark runs)."""
    con = duckdb_engine.connect()
    try:
        scanned = normalised_records(path, duckdb_engine.read_parquet(con, [path]))
        check_records(path, scanned, con.to_pyarrow)
        shown = displayed_expr(scanned, as_of, catalog)
        subjects = named_subjects_expr(scanned)
        result = duckdb_engine.score_expr(con, scheme, shown, as_of, subjects)
    finally:
        con.disconnect()
    return result.cast(STANDINGS_SCHEMA)


def _outcome(run: Any, path: Path | None = None) -> tuple[str, Any]:
    """What a run gave: its standings, or its refusal with the file's path left out."""
    try:
        table = run()
    except RecordsFileError as exc:
        return "refused", str(exc).replace(str(path), "<file>") if path else str(exc)
    return "scored", table.cast(STANDINGS_SCHEMA).to_pylist()


def _canonical(value: Any) -> Any:
    """An id as ingest would store it (blank and missing values left to the checks)."""
    if not isinstance(value, str) or not value.strip():
        return value
    return canonical_subject_id(value)


def _spoil(rows: list[dict[str, Any]], how: str, where: int) -> None:
    """One kind of damage a real file has, at row ``where``."""
    row = rows[where % len(rows)]
    if how == "blank code":
        row["code"] = " \t"
    elif how == "null code":
        row["code"] = None
    elif how == "blank subject":
        row["subject_id"] = "\n "
    elif how == "bad kind":
        row["subject_kind"] = "other"
    elif how == "null kind":
        row["subject_kind"] = None
    elif how == "bad date":
        row["occurred_at"] = "2024-02-30"
    elif how == "two kinds":
        other = "person" if row["subject_kind"] == "organization" else "organization"
        rows.append({**row, "record_id": "X", "subject_kind": other})
    elif how == "lower-case id":
        row["subject_id"] = synthetic_resident_id(3702, date(1981, 5, 5), 9).lower()
    elif how == "carriage return":  # blank: the scans strip more than spaces
        row["code"] = "\r"
    elif how == "leading blank":  # not blank, but sorts before "!": the rows are counted
        row["code"] = "\t" + str(row["code"])


DAMAGE = [
    "blank code",
    "null code",
    "blank subject",
    "bad kind",
    "null kind",
    "bad date",
    "two kinds",
    "lower-case id",
    "carriage return",
    "leading blank",
]


def _write(path: Path, rows: list[dict[str, Any]], dates: str) -> None:
    """``rows`` as Parquet, ``occurred_at`` typed as dates, timestamps or text."""
    table = []
    for row in rows:
        attrs = row.get("attrs")
        out = {**row, "attrs": orjson.dumps(attrs).decode() if isinstance(attrs, dict) else attrs}
        value = row["occurred_at"]
        if isinstance(value, date):
            if dates == "text":
                out["occurred_at"] = value.isoformat()
            elif dates == "timestamp":
                out["occurred_at"] = datetime(value.year, value.month, value.day, 13, 5)
        elif dates != "text":
            out["occurred_at"] = None  # not a date: missing in a typed column
        table.append(out)
    pq.write_table(pa.Table.from_pylist(table), path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=schemes(),
    rows=records().filter(bool),
    damage=st.one_of(
        st.just([]),
        st.lists(st.tuples(st.sampled_from(DAMAGE), st.integers(0, 60)), min_size=1, max_size=2),
    ),
    dates=st.sampled_from(["date", "timestamp", "text"]),
    catalog=st.sampled_from([None, CATALOG]),
)
def test_the_scan_gives_what_the_engine_neutral_scan_gives(
    tmp_path_factory: pytest.TempPathFactory,
    scheme: dict[str, Any],
    rows: list[dict[str, Any]],
    damage: list[tuple[str, int]],
    dates: str,
    catalog: Catalog | None,
) -> None:
    model = Scheme.model_validate(scheme)
    for how, where in damage:
        _spoil(rows, how, where)
    path = tmp_path_factory.mktemp("scan") / "records.parquet"
    _write(path, rows, dates)
    fast = _outcome(lambda: score_scan(model, path, [path], AS_OF, catalog), path)
    # The engine-neutral scan does not canonicalise ids: it gets them canonical already.
    spelled = tmp_path_factory.mktemp("canonical") / "records.parquet"
    _write(spelled, [{**r, "subject_id": _canonical(r["subject_id"])} for r in rows], dates)
    reference = _outcome(lambda: _reference(model, spelled, AS_OF, catalog), spelled)
    assert fast == reference, (damage, dates, rows)


def test_a_peer_scheme_is_scored_from_the_scan(tmp_path: Path) -> None:
    """docs/schemes.md's worked example 10.1, from a Parquet file."""
    scheme = parse_scheme(DOC_10_1_SCHEME).scheme
    ratings = [
        ("1", "r1", 5, "2025-06-05"),
        ("2", "r2", 4, "2025-06-12"),
        ("3", "r3", 1, "2025-05-01"),
    ]
    rows = [
        {
            "record_id": rid,
            "source": "app",
            "subject_id": "s1",
            "subject_kind": "person",
            "code": "peer.rating",
            "occurred_at": date.fromisoformat(day),
            "case_id": "m1",
            "attrs": orjson.dumps({"rater": rater, "stars": stars}).decode(),
        }
        for rid, rater, stars, day in ratings
    ]
    path = tmp_path / "ratings.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    as_of = date(2025, 6, 30)
    fast = _outcome(lambda: score_scan(scheme, path, [path], as_of, None))
    assert fast == _outcome(lambda: _reference(scheme, path, as_of, None))
    assert fast == (
        "scored",
        [{"subject_id": "s1", "score": 3.75, "grade": "LOW", "lists": "", "measures": ""}],
    )


def test_ids_that_are_not_canonical_are_read_and_canonicalised(tmp_path: Path) -> None:
    """An id with blanks around it is the same person however the file reaches the engine."""
    person = synthetic_resident_id(3702, date(1990, 1, 1), 3)
    spelled = " " + person + " "  # padded: canonical once stripped
    rows = [
        {
            "record_id": "r1",
            "source": "t",
            "subject_id": spelled,
            "subject_kind": "person",
            "code": "court.defaulter",
            "occurred_at": AS_OF - timedelta(days=3),
        }
    ]
    path = tmp_path / "records.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    pilot = Path(__file__).parents[2] / "src/xinyong/pilots/judgment-defaulters.toml"
    scheme = load_scheme(pilot).scheme
    duck = score_file(scheme, path, AS_OF, Engine.DUCKDB, catalog=CATALOG)
    python = score_file(scheme, path, AS_OF, Engine.PYTHON, catalog=CATALOG)
    assert duck.to_pylist() == python.to_pylist()
    assert duck.column("subject_id").to_pylist() == [person.upper()]


def test_a_file_that_is_not_parquet_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    path.write_bytes(b"subject_id,code\n")
    pilot = Path(__file__).parents[2] / "src/xinyong/pilots/rongcheng.toml"
    with pytest.raises(RecordsFileError, match=r"records\.parquet: not readable: "):
        score_scan(load_scheme(pilot).scheme, path, [path], AS_OF, CATALOG)


def test_scoring_a_parquet_file_with_compiled_sql_imports_no_ibis_ledger_or_pandas(
    tmp_path: Path,
) -> None:
    """What ``xinyong score --records`` does not need, it does not import (their import is a
    large part of a whole process's time: docs/benchmarks.md, "Scoring as whole processes")."""
    path = tmp_path / "records.parquet"
    person = synthetic_resident_id(3702, date(1990, 1, 1), 3)
    rows = [
        {
            "record_id": "r1",
            "subject_id": person,
            "subject_kind": "person",
            "code": "court.defaulter",
            "occurred_at": AS_OF,
        },
        {  # a plain external id: the ids' check reads it with Arrow's regular expressions
            "record_id": "r2",
            "subject_id": "shop:42",
            "subject_kind": "person",
            "code": "court.defaulter",
            "occurred_at": AS_OF,
        },
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    command = [sys.executable, "-m", "xinyong", "score", "judgment-defaulters", "--records"]
    command += [str(path), "--as-of", AS_OF.isoformat(), "--out", str(tmp_path / "out.csv")]
    subprocess.run(command, check=True, capture_output=True)  # compiles and keeps the SQL
    probe = (
        "import sys, runpy; sys.argv = " + repr(["xinyong", *command[3:]]) + "\n"
        "try:\n    runpy.run_module('xinyong', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "unwanted = ('ibis', 'sqlglot', 'sqlalchemy', 'pandas', 'xinyong.ledger')\n"
        "loaded = [m for m in unwanted if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)


def _one_default(path: Path, rows: list[dict[str, Any]]) -> None:
    pq.write_table(pa.Table.from_pylist(rows), path)


DEFAULTS = """id = "defaults"
name = "Defaults"
base = 100

[[grades]]
name = "A"
min = 100

[[grades]]
name = "B"

[[rules]]
id = "default"
match = "court.defaulter"
points = -10
valid_for = "1y"
cleared_by = ["court.judgment_performed"]
"""


def test_a_dataset_is_read_by_column_name_literally_and_without_partitions(tmp_path: Path) -> None:
    """Columns only a later file has are kept; a ``*`` in a file name is no pattern; a folder
    named like a partition (``code=...``) does not replace the records' own column."""
    person = synthetic_resident_id(3702, date(1990, 1, 1), 3)
    folder = tmp_path / "export" / "code=civic.commendation"
    folder.mkdir(parents=True)
    base = {"source": "court", "subject_id": person, "subject_kind": "person"}
    day = AS_OF - timedelta(days=5)
    _one_default(
        folder / "part*.parquet",
        [{**base, "record_id": "a", "code": "court.defaulter", "occurred_at": day}],
    )
    later = [
        {**base, "record_id": "b", "code": "court.defaulter", "occurred_at": day, "case_id": "k"},
        {
            **base,
            "record_id": "c",
            "code": "court.judgment_performed",
            "occurred_at": AS_OF,
            "case_id": "k",
        },
    ]
    _one_default(folder / "part1.parquet", later)
    scheme = parse_scheme(DEFAULTS).scheme
    duck = score_file(scheme, tmp_path / "export", AS_OF, Engine.DUCKDB, catalog=CATALOG)
    python = score_file(scheme, tmp_path / "export", AS_OF, Engine.PYTHON, catalog=CATALOG)
    assert duck.to_pylist() == python.to_pylist()
    assert duck.column("score").to_pylist() == [90.0]  # a counts, b is cleared by c


def test_a_timestamp_with_a_time_zone_is_a_date_in_utc(tmp_path: Path) -> None:
    """Whatever the machine's time zone: 20:00 UTC on the as-of date is that date, not the
    next day in Shanghai."""
    person = synthetic_resident_id(3702, date(1990, 1, 1), 3)
    moment = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 20, 0, tzinfo=UTC)
    path = tmp_path / "records.parquet"
    _one_default(
        path,
        [
            {
                "record_id": "a",
                "subject_id": person,
                "subject_kind": "person",
                "code": "court.defaulter",
                "occurred_at": moment,
            }
        ],
    )
    command = [sys.executable, "-m", "xinyong", "score", "judgment-defaulters", "--records"]
    command += [str(path), "--as-of", AS_OF.isoformat(), "--out", "-"]
    env = {**os.environ, "TZ": "Asia/Shanghai"}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    assert "defaulters" in done.stdout


def test_attributes_that_are_not_json_are_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    person = synthetic_resident_id(3702, date(1990, 1, 1), 3)
    _one_default(
        path,
        [
            {
                "record_id": "a",
                "subject_id": person,
                "subject_kind": "person",
                "code": "finance.bank_arrears",
                "occurred_at": AS_OF,
                "case_id": "k",
                "attrs": "{'months': 2}",
            }
        ],
    )
    rongcheng = load_scheme(Path(__file__).parents[2] / "src/xinyong/pilots/rongcheng.toml").scheme
    with pytest.raises(RecordsFileError, match=r"records\.parquet: not readable: .*JSON"):
        score_scan(rongcheng, path, [path], AS_OF, CATALOG)


@pytest.mark.parametrize(
    "written",
    [
        "infinity",
        "epoch",
        "2024-1-5",
        " 2024-01-05",
        "2024-01-05\n",
        "2024-02-30",
        "２０２４-01-05",
    ],
)
def test_a_text_date_is_read_as_yyyy_mm_dd_by_every_path(tmp_path: Path, written: str) -> None:
    """DuckDB's cast reads 'infinity', 'epoch' and '2024-1-5' as dates; a records file read
    into Arrow, and ingest, refuse them. Every path refuses them, naming the column."""
    person = synthetic_resident_id(3702, date(1990, 1, 1), 3)
    path = tmp_path / "records.parquet"
    row = {"record_id": "a", "subject_id": person, "subject_kind": "person"}
    _one_default(path, [{**row, "code": "court.defaulter", "occurred_at": written}])
    scheme = parse_scheme(DEFAULTS).scheme
    outcomes = [
        _outcome(lambda: score_scan(scheme, path, [path], AS_OF, CATALOG), path),
        _outcome(lambda: _reference(scheme, path, AS_OF, CATALOG), path),
        _outcome(lambda: score_file(scheme, path, AS_OF, Engine.PYTHON, catalog=CATALOG), path),
    ]
    for kind, message in outcomes:
        assert kind == "refused"
        assert "occurred_at" in message
    ledger = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    report = ingest_records(ledger, path, CATALOG, source="court")
    ledger.dispose()
    assert [(r.line, r.field) for r in report.rejects] == [(1, "occurred_at")]
