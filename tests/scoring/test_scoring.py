"""``xinyong score``, ``explain``, ``lint`` and ``scheme``: files, ledgers, engines, refusals."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.support.overridden import override_args
from xinyong.cli.app import app
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.domain.records import InputRecord
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.schemes.model import Scheme
from xinyong.scoring.reference import explain_subject
from xinyong.scoring.run import Engine, score_arrow

SCHEME = Path(__file__).parents[1] / "data" / "example_scheme.toml"
P1 = synthetic_resident_id(7, date(1980, 1, 1), 1)
P2 = synthetic_resident_id(7, date(1981, 1, 1), 2)
P3 = synthetic_resident_id(7, date(1982, 1, 1), 3)
HEADER = [
    "record_id",
    "subject_id",
    "subject_kind",
    "code",
    "occurred_at",
    "source",
    "case_id",
    "attrs",
    "evidence",
]
ROWS = [
    # P1: a contract default of 20,000 at a branch, 300 days before the as-of date, valid 3y
    # with linear decay: -20 * (1 - 300/1095) = -14.520548; it also vetoes to C and lists.
    [
        "r1",
        P1,
        "person",
        "finance.contract_default",
        "2024-09-03",
        "bank",
        "k1",
        '{"amount": 20000, "channel": "branch"}',
        "",
    ],
    # P1: blood donations: 7 x 5 = 35, capped at 30
    *[
        [
            f"b{i}",
            P1,
            "person",
            "civic.blood_donation",
            "2025-01-0" + str(i + 1),
            "redcross",
            "",
            "{}",
            "",
        ]
        for i in range(7)
    ],
    # P2: the same default, but repaid later in the same case: cleared
    [
        "r2",
        P2,
        "person",
        "finance.contract_default",
        "2024-09-03",
        "bank",
        "k2",
        '{"amount": 20000, "channel": "branch"}',
        "",
    ],
    ["r3", P2, "person", "finance.repaid", "2024-12-01", "bank", "k2", "{}", ""],
    # P3: an online default (predicate false) and a court listing 3 years old (expired, 2y)
    [
        "r4",
        P3,
        "person",
        "finance.contract_default",
        "2025-01-01",
        "bank",
        "",
        '{"amount": 50000, "channel": "online"}',
        "",
    ],
    ["r5", P3, "person", "court.defaulter", "2022-06-30", "court", "c5", "{}", ""],
]
AS_OF = "2025-06-30"
# P1: 1000 - 14.520548 + 30 = 1015.479452 -> 1015.48 -> grade A (>= 1000), vetoed to C
EXPECTED = {
    P1: ("1015.48", "C", "blacklist", "restrict-flights"),
    P2: ("1000", "A", "", ""),
    P3: ("1000", "A", "", ""),
}

runner = CliRunner()


@pytest.fixture
def records_csv(tmp_path: Path) -> Path:
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    return path


def _read(path: Path) -> dict[str, tuple[str, str, str, str]]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["subject_id"] for r in rows] == sorted(r["subject_id"] for r in rows)
    return {r["subject_id"]: (r["score"], r["grade"], r["lists"], r["measures"]) for r in rows}


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_score_a_records_file(records_csv: Path, tmp_path: Path, engine: str) -> None:
    out = tmp_path / "standings.csv"
    result = runner.invoke(
        app,
        [
            "score",
            str(SCHEME),
            "--records",
            str(records_csv),
            "--as-of",
            AS_OF,
            "--out",
            str(out),
            "--engine",
            engine,
        ],
    )
    assert result.exit_code == 0, result.output
    assert _read(out) == EXPECTED
    assert "bare-score-sanction" in result.output  # the example blacklist admits grade D


def test_score_parquet_output_and_stdout(records_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "standings.parquet"
    args = ["score", str(SCHEME), "--records", str(records_csv), "--as-of", AS_OF]
    assert runner.invoke(app, [*args, "--out", str(out)]).exit_code == 0
    table = pq.read_table(out)
    assert table.column_names == ["subject_id", "score", "grade", "lists", "measures"]
    assert table.column("score").to_pylist()[0] == pytest.approx(1015.48)
    stdout = runner.invoke(app, [*args, "--out", "-"])
    assert stdout.stdout.splitlines()[0] == '"subject_id","score","grade","lists","measures"'


def test_show_sql(records_csv: Path) -> None:
    result = runner.invoke(
        app, ["score", str(SCHEME), "--records", str(records_csv), "--as-of", AS_OF, "--show-sql"]
    )
    assert result.exit_code == 0, result.output
    assert "-- duckdb" in result.output
    assert "-- postgres" in result.output
    assert "JSONB_TYPEOF" in result.output  # the PostgreSQL form of a typed attribute read


def test_explain(records_csv: Path) -> None:
    result = runner.invoke(
        app,
        [
            "explain",
            str(SCHEME),
            "--subject",
            P1,
            "--as-of",
            AS_OF,
            "--records",
            str(records_csv),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.splitlines()[-1])
    assert data["score"] == 1015.48
    assert data["grade_before_veto"] == "A"
    assert data["vetoes"] == [{"rule": "contract-default", "grade": "C"}]
    default = next(r for r in data["records"] if r["rule"] == "contract-default")
    assert default["factor"] == pytest.approx(1 - 300 / 1095)
    good = next(r for r in data["rules"] if r["rule"] == "good")
    assert (good["total"], good["capped_total"], good["capped"]) == (35, 30, True)
    text = runner.invoke(
        app,
        ["explain", str(SCHEME), "--subject", P2, "--as-of", AS_OF, "--records", str(records_csv)],
        env={"COLUMNS": "250"},
    )
    assert "cleared by bank/r3 (finance.repaid, 2024-12-01)" in text.output
    p3 = runner.invoke(
        app,
        [
            "explain",
            str(SCHEME),
            "--subject",
            P3,
            "--as-of",
            AS_OF,
            "--records",
            str(records_csv),
            "--json",
        ],
    )
    reasons = {r["record"]: r["reason"] for r in json.loads(p3.output.splitlines()[-1])["records"]}
    assert reasons["bank/r4"] == "predicate false"
    assert reasons["court/r5"].startswith("expired")


def test_lint_errors_are_located_and_refused(tmp_path: Path, records_csv: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        SCHEME.read_text(encoding="utf-8")
        .replace('veto = "C"', 'veto = "Z"')
        .replace('rules = ["contract-default", "court"]', 'rules = ["nope"]'),
        encoding="utf-8",
    )
    lines = bad.read_text(encoding="utf-8").splitlines()
    veto_line = next(i for i, text in enumerate(lines, 1) if text.startswith("veto"))
    result = runner.invoke(app, ["lint", str(bad)])
    assert result.exit_code == 1
    assert (
        f"bad.toml:{veto_line}: error [unknown-grade] [[rules]] #1 (contract-default) veto"
        in result.output
    )
    assert "[unknown-rule] [[lists]] #1 (blacklist) rules: unknown rule 'nope'" in result.output
    scored = runner.invoke(
        app, ["score", str(bad), "--records", str(records_csv), "--as-of", AS_OF]
    )
    assert scored.exit_code == 2
    assert "nothing was scored" in scored.output


def test_lint_strict_and_clean(tmp_path: Path) -> None:
    assert runner.invoke(app, ["lint", str(SCHEME)]).exit_code == 0
    assert runner.invoke(app, ["lint", str(SCHEME), "--strict"]).exit_code == 1
    broken = tmp_path / "broken.toml"
    broken.write_text('id = "x"\nname = "x"\nbase = "lots"\n[[grades]]\nname = "A"\n')
    result = runner.invoke(app, ["lint", str(broken)])
    assert result.exit_code == 1
    assert "broken.toml:3: error [schema] base" in result.output


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["x", P1, "person", "a.b", "2024-13-01", "s", "", "{}", ""], "occurred_at"),
        # strptime rolls 30 February over to 1 March; ingest refuses the day, and so does this
        (["x", P1, "person", "a.b", "2023-02-29", "s", "", "{}", ""], "occurred_at: bad date"),
        (["x", P1, "person", "a.b", "", "s", "", "{}", ""], "occurred_at: missing"),
        (["x", P1, "alien", "a.b", "2024-01-01", "s", "", "{}", ""], "subject_kind"),
        (["x", "", "person", "a.b", "2024-01-01", "s", "", "{}", ""], "subject_id"),
    ],
)
def test_bad_records_file_is_refused(tmp_path: Path, row: list[str], message: str) -> None:
    path = tmp_path / "bad.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, ROWS[0], row])
    result = runner.invoke(app, ["score", str(SCHEME), "--records", str(path), "--as-of", AS_OF])
    assert result.exit_code == 2
    assert f"bad.csv: data row 2: {message}" in result.output


def _ingest(ledger_url: str, records_csv: Path, tmp_path: Path) -> None:
    subjects = tmp_path / "subjects.csv"
    subjects.write_text(
        f"subject_id,kind\n{P1},person\n{P2},person\n{P3},person\n"
        f"{synthetic_resident_id(7, date(1990, 1, 1), 5)},person\n"
    )
    assert (
        runner.invoke(app, ["subjects", "load", str(subjects), "--db", ledger_url]).exit_code == 0
    )
    result = runner.invoke(
        app, ["ingest", str(records_csv), "--db", ledger_url, "--today", "2025-12-31"]
    )
    assert result.exit_code == 0, result.output


def test_ledger_mode_save_and_replay(ledger_url: str, records_csv: Path, tmp_path: Path) -> None:
    _ingest(ledger_url, records_csv, tmp_path)
    added = runner.invoke(
        app, ["scheme", "add", str(SCHEME), "--db", ledger_url, *override_args(SCHEME)]
    )
    assert added.exit_code == 0, added.output
    head = json.loads(runner.invoke(app, ["ledger", "head", "--db", ledger_url, "--json"]).output)
    out = tmp_path / "standings.csv"
    result = runner.invoke(
        app,
        [
            "score",
            "--db",
            ledger_url,
            "--scheme",
            "rongcheng",
            "--as-of",
            AS_OF,
            "--save",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    standings = _read(out)
    assert len(standings) == 4  # every registered person, with or without records
    assert standings[P1] == EXPECTED[P1]
    # an upheld objection revokes P1's default: the standing changes ...
    engine = open_database(ledger_url)
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        append_event(
            conn,
            EventType.REVOKED,
            "bank",
            "r1",
            effective_on=date(2025, 7, 1),
            actor="operator",
            reason="objection upheld",
        )
    engine.dispose()
    after = tmp_path / "after.csv"
    args = ["score", str(SCHEME), "--db", ledger_url, "--as-of", AS_OF]
    assert runner.invoke(app, [*args, "--out", str(after)]).exit_code == 0
    assert _read(after)[P1] == ("1030", "A", "", "")
    # ... and replaying as the ledger stood before gives the saved standing back
    replay = tmp_path / "replay.csv"
    result = runner.invoke(app, [*args, "--known-at", str(head["size"]), "--out", str(replay)])
    assert result.exit_code == 0, result.output
    assert _read(replay) == standings
    db = sa.create_engine(ledger_url)
    with db.connect() as conn:
        run = conn.exec_driver_sql("SELECT known_at, engine, subjects FROM standing_runs").one()
        saved = conn.exec_driver_sql("SELECT count(*) FROM standings").scalar()
    db.dispose()
    assert tuple(run) == (head["size"], "duckdb", 4)
    assert saved == 4


@pytest.mark.postgres
def test_postgres_in_place_matches_duckdb(
    pg_server_url: str, records_csv: Path, tmp_path: Path
) -> None:
    from tests.support.postgres import reset_pg

    reset_pg(pg_server_url)
    _ingest(pg_server_url, records_csv, tmp_path)
    outputs = {}
    for engine in ("duckdb", "postgres", "python"):
        out = tmp_path / f"{engine}.csv"
        result = runner.invoke(
            app,
            [
                "score",
                str(SCHEME),
                "--db",
                pg_server_url,
                "--as-of",
                AS_OF,
                "--engine",
                engine,
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        outputs[engine] = _read(out)
    assert outputs["duckdb"] == outputs["postgres"] == outputs["python"]
    assert outputs["postgres"][P1] == EXPECTED[P1]


_EXPIRY = {
    "id": "ex-valid-for",
    "name": "Expiry",
    "base": 100,
    "grades": [{"name": "A", "min": 100}, {"name": "B"}],
    "rules": [{"id": "late-fee", "match": "utility.late_fee", "points": -20, "valid_for": "1y"}],
}


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_worked_example_of_a_calendar_term(engine: str) -> None:
    """docs/schemes.md 8.3: a year is a calendar year; 29 February + 1y is 28 February."""
    days = {"s1": date(2024, 7, 1), "s2": date(2024, 6, 30), "s3": date(2024, 2, 29)}
    rows = [
        {"record_id": s, "source": "t", "subject_id": s, "subject_kind": "person",
         "code": "utility.late_fee", "occurred_at": day, "case_id": None, "attrs": "{}"}
        for s, day in days.items()
    ]  # fmt: skip
    table = score_arrow(
        Scheme.model_validate(_EXPIRY),
        pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA),
        date(2025, 6, 30),
        Engine(engine),
    )
    grades = {r["subject_id"]: (r["score"], r["grade"]) for r in table.to_pylist()}
    assert grades == {"s1": (80.0, "B"), "s2": (100.0, "A"), "s3": (100.0, "A")}


_ATTRIBUTED = {
    "id": "ex-attributed",
    "name": "Terms and points from attributes",
    "base": 100,
    "grades": [{"name": "A", "min": 100}, {"name": "B"}],
    "rules": [
        {
            "id": "listing",
            "match": "court.defaulter",
            "points": -100,
            "valid_for": {"attr": "term_years", "unit": "y", "default": "2y", "max": "5y"},
        },
        {
            "id": "arrears",
            "match": "finance.bank_arrears",
            "points": {"per": "months", "each": -10, "max_units": 3},
            "valid_for": "1y",
        },
    ],
}


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_worked_example_of_terms_and_points_from_attributes(engine: str) -> None:
    """docs/schemes.md 8.13, and what the explanation says of each record."""
    listed, arrears = date(2022, 7, 1), date(2025, 1, 10)
    given = {
        "s1": ("court.defaulter", listed, '{"term_years": 3}'),
        "s2": ("court.defaulter", listed, "{}"),
        "s3": ("court.defaulter", date(2021, 7, 1), '{"term_years": 9}'),
        "s4": ("court.defaulter", listed, '{"term_years": 2.5}'),
        "s5": ("finance.bank_arrears", arrears, '{"months": 2}'),
        "s6": ("finance.bank_arrears", arrears, '{"months": 7}'),
        "s7": ("finance.bank_arrears", arrears, '{"months": "2"}'),
    }
    rows = [
        {"record_id": s, "source": "t", "subject_id": s, "subject_kind": "person", "code": code,
         "occurred_at": day, "case_id": None, "attrs": attrs}
        for s, (code, day, attrs) in given.items()
    ]  # fmt: skip
    scheme = Scheme.model_validate(_ATTRIBUTED)
    as_of = date(2025, 6, 30)
    table = score_arrow(
        scheme, pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA), as_of, Engine(engine)
    )
    scores = {r["subject_id"]: r["score"] for r in table.to_pylist()}
    assert scores == {"s1": 0, "s2": 100, "s3": 0, "s4": 100, "s5": 80, "s6": 70, "s7": 100}
    records = [InputRecord(**{**row, "attrs": orjson.loads(row["attrs"])}) for row in rows]
    seen = {
        c.record.subject_id: c
        for s in given
        for c in explain_subject(scheme, s, records, as_of).records
    }
    assert (seen["s1"].term, seen["s1"].ends_on) == ("3y", date(2025, 7, 1))
    assert (seen["s3"].term, seen["s3"].ends_on) == ("5y", date(2026, 7, 1))
    assert seen["s4"].term == "2y"
    assert seen["s4"].reason.startswith("expired")
    assert (seen["s6"].units, seen["s6"].contribution) == (3.0, -30.0)
    assert not seen["s7"].counted
    assert "months is missing or not a number" in seen["s7"].reason


_ASSIGNED: dict[str, Any] = {
    "id": "ex-assigned",
    "name": "Assigned grades",
    "subject_kinds": ["organization"],
    "base": 100,
    "grades": [
        {"name": "A", "min": 90},
        {"name": "B", "min": 70},
        {"name": "M", "assigned": True},
        {"name": "C", "min": 40},
        {"name": "D"},
    ],
    "rules": [
        {"id": "new-enterprise", "match": "tax.new_taxpayer", "points": 0, "grade": "M",
         "valid_for": "1y"},
        {"id": "no-revenue", "match": "tax.no_revenue", "points": 0, "veto": "M",
         "valid_for": "1y"},
        {"id": "tax-crime", "match": "tax.crime", "points": 0, "veto": "D", "valid_for": "2y"},
        {"id": "invoice-fraud", "match": "tax.invoice_fraud", "points": -40, "valid_for": "1y"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_worked_example_of_assigned_grades(engine: str) -> None:
    """docs/schemes.md 8.14, and how the explanation tells the steps apart."""
    given = {
        "o1": [("tax.new_taxpayer", "2025-03-01")],
        "o2": [
            ("tax.new_taxpayer", "2025-03-01"),
            ("tax.invoice_fraud", "2025-04-01"),
            ("tax.invoice_fraud", "2025-05-01"),
        ],
        "o3": [("tax.new_taxpayer", "2025-03-01"), ("tax.crime", "2025-05-01")],
        "o4": [("tax.no_revenue", "2025-01-01")],
        "o5": [("tax.no_revenue", "2025-01-01"), ("tax.invoice_fraud", "2025-04-01")],
        "o6": [("tax.new_taxpayer", "2024-06-01")],
    }
    rows = [
        {"record_id": f"{s}-{i}", "source": "t", "subject_id": s,
         "subject_kind": "organization", "code": code, "occurred_at": date.fromisoformat(day),
         "case_id": None, "attrs": "{}"}
        for s, records in given.items()
        for i, (code, day) in enumerate(records)
    ]  # fmt: skip
    scheme = Scheme.model_validate(_ASSIGNED)
    as_of = date(2025, 6, 30)
    table = score_arrow(
        scheme, pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA), as_of, Engine(engine)
    )
    got = {r["subject_id"]: (r["score"], r["grade"]) for r in table.to_pylist()}
    assert got == {
        "o1": (100, "M"),
        "o2": (20, "M"),
        "o3": (100, "D"),
        "o4": (100, "M"),
        "o5": (60, "C"),
        "o6": (100, "A"),
    }
    records = [InputRecord(**{**row, "attrs": {}}) for row in rows]
    o3 = explain_subject(scheme, "o3", records, as_of)
    assert (o3.score_grade, o3.grade_before_veto, o3.standing.grade) == ("A", "M", "D")
    assert o3.assignments == (("new-enterprise", "M"),)
    assert o3.vetoes == (("tax-crime", "D"),)
    o5 = explain_subject(scheme, "o5", records, as_of)
    assert (o5.score_grade, o5.standing.grade, o5.assignments) == ("C", "C", ())
