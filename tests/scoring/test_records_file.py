"""Reading a records file for scoring: the same records give the same table, and so the same
standings, whatever the order of a JSON Lines file's lines and whichever lines spell out an
optional field."""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.support.service_fixtures import PERSON, SCHEME
from tests.support.strategies import records
from xinyong.cli.app import app
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.scoring.records_file import read_records_file

OPTIONAL = ("source", "case_id", "attrs")


def _line(record: dict[str, Any], spelled: str) -> bytes:
    """One record as a JSON line; an optional field that is empty is left out, written as null,
    or written as its value, as ``spelled`` says."""
    row: dict[str, Any] = {**record, "occurred_at": record["occurred_at"].isoformat()}
    for name in OPTIONAL:
        empty = row[name] in (None, {})
        if empty and spelled == "absent":
            del row[name]
        elif empty and spelled == "null":
            row[name] = None
    return orjson.dumps(row)


def _rows(path: Path) -> list[tuple[Any, ...]]:
    table = read_records_file(path)
    return sorted(tuple(str(row[name]) for name in sorted(row)) for row in table.to_pylist())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=records(), seed=st.integers(0, 2**32), data=st.data())
def test_the_order_of_lines_and_the_spelling_of_empty_fields_change_nothing(
    tmp_path_factory: Any, rows: list[dict[str, Any]], seed: int, data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp("jsonl")
    spelled = [data.draw(st.sampled_from(["absent", "null", "value"])) for _ in rows]
    first, second = folder / "first.jsonl", folder / "second.jsonl"
    first.write_bytes(b"\n".join(_line(r, "value") for r in rows))
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    second.write_bytes(b"\n".join(_line(rows[i], spelled[i]) for i in order))
    assert _rows(first) == _rows(second)


def test_a_first_line_without_a_case_id_does_not_drop_the_others(tmp_path: Path) -> None:
    """The issue's example: a judgment performed clears the breach of the same case only if
    the reader keeps ``case_id``; before, a first line without one dropped it from every line
    (grade C and the black list in one order, grade A in the other)."""
    lines = [
        {"code": "civic.volunteer_service", "occurred_at": "2025-04-01", "record_id": "v1"},
        {"code": "court.breach_judgment", "occurred_at": "2025-05-01", "case_id": "c1"},
        {"code": "court.judgment_performed", "occurred_at": "2025-05-10", "case_id": "c1"},
    ]
    answers = []
    for name, order in (("first.jsonl", [0, 1, 2]), ("second.jsonl", [1, 2, 0])):
        path = tmp_path / name
        path.write_bytes(
            b"\n".join(
                orjson.dumps(
                    {"record_id": f"r{i}", "subject_id": PERSON, "subject_kind": "person"}
                    | lines[i]
                )
                for i in order
            )
        )
        result = CliRunner().invoke(
            app, ["score", str(SCHEME), "--records", str(path), "--as-of", str(date(2025, 6, 30))]
        )
        assert result.exit_code == 0, result.output
        answers.append(result.stdout.strip().splitlines()[-1])
    assert answers[0] == answers[1]
    assert answers[0].endswith(',"A","",""'), answers[0]


AS_OF = date(2025, 6, 30)
OTHER = synthetic_resident_id(9, date(1990, 2, 2), 8)
AS_INGESTED = [
    # Two years old: past the catalog's display period of civic.volunteer_service (one year),
    # so shown neither in the ledger nor, now, from the file (it was +5 from the file).
    {"record_id": "v1", "subject_id": PERSON, "code": "civic.volunteer_service",
     "occurred_at": "2023-06-01"},
    {"record_id": "c1", "subject_id": PERSON, "code": "court.breach_judgment",
     "occurred_at": "2025-05-01", "case_id": "k1"},
    # Only a record after the as-of date: scored at the base score in both modes.
    {"record_id": "c2", "subject_id": OTHER, "code": "court.breach_judgment",
     "occurred_at": "2025-07-01"},
]  # fmt: skip


def _score(*args: str, stdin: bytes | None = None) -> list[str]:
    result = CliRunner().invoke(
        app, ["score", str(SCHEME), "--as-of", str(AS_OF), *args], input=stdin
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()


def _files(folder: Path) -> dict[str, Path]:
    rows = [
        {"source": "court", "subject_kind": "person", "case_id": "", "attrs": "{}", **row}
        for row in AS_INGESTED
    ]
    table = pa.Table.from_pylist(rows)
    paths = {fmt: folder / f"records.{fmt}" for fmt in ("csv", "jsonl", "parquet")}
    pacsv.write_csv(table, paths["csv"])
    paths["jsonl"].write_bytes(b"\n".join(orjson.dumps(row) for row in rows))
    pq.write_table(table, paths["parquet"])
    return paths


def test_a_file_is_scored_as_if_it_had_been_ingested(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    from_file = _score("--records", str(paths["csv"]))
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    ingested = CliRunner().invoke(
        app, ["ingest", str(paths["csv"]), "--db", db, "--today", "2025-12-31"]
    )
    assert ingested.exit_code == 0, ingested.output
    assert from_file == _score("--db", db)
    standings = {row["subject_id"]: row for row in csv.DictReader(from_file)}
    assert float(standings[PERSON]["score"]) == 950.0, standings  # -50, and not +5
    assert float(standings[OTHER]["score"]) == 1000.0, standings


def test_standard_input_is_read_as_the_file_is(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    expected = _score("--records", str(paths["csv"]))
    for path in paths.values():
        assert _score("--records", "-", stdin=path.read_bytes()) == expected, path.suffix


def test_a_file_naming_one_subject_with_two_kinds_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    path.write_text(
        "subject_id,subject_kind,code,occurred_at\n"
        f"{PERSON},person,court.breach_judgment,2025-01-01\n"
        f"{PERSON},organization,court.breach_judgment,2025-01-02\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["score", str(SCHEME), "--records", str(path), "--as-of", str(AS_OF)]
    )
    assert result.exit_code != 0
    assert "data row 2: subject_kind: subject" in result.output, result.output
    assert "Traceback" not in result.output


def test_attributes_that_are_not_a_json_object_are_refused_alike_by_every_engine(
    tmp_path: Path,
) -> None:
    """Not halfway through a query, and not only when a rule reads them: the row is named."""
    for attrs, reason in (('{"months": 2, "months": 3}', "given twice"), ("[1]", "JSON object")):
        path = tmp_path / "records.csv"
        rows = [
            {"record_id": "a", "subject_id": PERSON, "subject_kind": "person",
             "code": "court.breach_judgment", "occurred_at": "2025-05-01", "attrs": "{}"},
            {"record_id": "b", "subject_id": PERSON, "subject_kind": "person",
             "code": "court.breach_judgment", "occurred_at": "2025-05-02", "attrs": attrs},
        ]  # fmt: skip
        pacsv.write_csv(pa.Table.from_pylist(rows), path)
        outputs = []
        for engine in ("duckdb", "python"):
            result = CliRunner().invoke(
                app,
                ["score", str(SCHEME), "--as-of", str(AS_OF), "--records", str(path)]
                + ["--engine", engine],
            )
            assert result.exit_code == 2, result.output
            assert "Traceback" not in result.output
            outputs.append(result.output)
        assert outputs[0] == outputs[1]
        assert "data row 2: attrs:" in outputs[0]
        assert reason in outputs[0]
