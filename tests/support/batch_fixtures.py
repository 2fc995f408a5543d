"""A small synthetic ledger for the batch tests: exports, scans, refreshes and Spark."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from xinyong.cli.app import app
from xinyong.synth import SynthConfig, generate
from xinyong.synth.dataset import write

runner = CliRunner()
AS_OF = "2026-10-31"  # the end of the synthetic window


def synthetic_ledger(url: str, directory: Path, people: int = 400, orgs: int = 40) -> None:
    """Register and ingest a seeded synthetic population (three years of records)."""
    dataset = generate(SynthConfig(people=people, organizations=orgs, years=3, seed=11))
    records = directory / "conduct.parquet"
    subjects = write(dataset, records)
    loaded = runner.invoke(app, ["subjects", "load", str(subjects), "--db", url])
    assert loaded.exit_code == 0, loaded.output
    ingested = runner.invoke(app, ["ingest", str(records), "--db", url, "--today", "2026-12-31"])
    assert ingested.exit_code == 0, ingested.output


def score_cli(*args: str) -> list[dict[str, str]]:
    """Run ``xinyong score ... --out FILE.csv`` and read the standings back."""
    out = Path(args[args.index("--out") + 1])
    result = runner.invoke(app, ["score", *args])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def bad_dataset(directory: Path) -> Path:
    """A Parquet dataset in ``directory`` (two files) with three bad rows among four."""
    directory.mkdir()
    good = {
        "record_id": "ok",
        "subject_id": "s1",
        "subject_kind": "person",
        "code": "civic.blood_donation",
        "occurred_at": date(2025, 1, 1),
        "attrs": "{}",
    }
    rows = [
        good,
        {**good, "record_id": "b2", "subject_kind": "robot"},
        {**good, "record_id": "b1", "subject_kind": None},
        {**good, "record_id": "b3", "subject_id": " "},
    ]
    pq.write_table(pa.Table.from_pylist(rows[:2]), directory / "a.parquet")
    pq.write_table(pa.Table.from_pylist(rows[2:]), directory / "b.parquet")
    return directory
