"""Reading a records file for scoring: the same records give the same table, and so the same
standings, whatever the order of a JSON Lines file's lines and whichever lines spell out an
optional field."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.support.service_fixtures import PERSON, SCHEME
from tests.support.strategies import records
from xinyong.cli.app import app
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
