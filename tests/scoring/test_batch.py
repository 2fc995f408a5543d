"""Batch paths without Spark: partitioned exports, Parquet scans, and the one-pass refresh."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.batch_fixtures import AS_OF, bad_dataset, runner, score_cli, synthetic_ledger
from xinyong.cli.app import app
from xinyong.decisions.standing import SchemeRegistry
from xinyong.due_process.refresh import refresh_all
from xinyong.ledger.append import read_head
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.scoring import ledger_run
from xinyong.scoring.ledger_run import score_ledger, score_ledger_all
from xinyong.scoring.run import Engine
from xinyong.scoring.store import add_scheme


def _export(url: str, out: Path, *extra: str) -> None:
    result = runner.invoke(
        app, ["export", "--out", str(out), "--as-of", AS_OF, "--db", url, *extra]
    )
    assert result.exit_code == 0, result.output


def test_partitioned_export_splits_by_subject(ledger_url: str, tmp_path: Path) -> None:
    synthetic_ledger(ledger_url, tmp_path)
    single = tmp_path / "all.parquet"
    _export(ledger_url, single)
    parts = tmp_path / "parts"
    _export(ledger_url, parts, "--partitions", "4")
    files = sorted(parts.glob("part=*/records.parquet"))
    assert [f.parent.name for f in files] == [f"part={k:05d}" for k in range(4)]
    for k, file in enumerate(files):
        for subject in set(pq.read_table(file).column("subject_id").to_pylist()):
            # CRC-32 of the UTF-8 id, modulo the partition count: computed here independently.
            assert zlib.crc32(subject.encode()) % 4 == k
    whole = pq.read_table(single).sort_by("position")
    split = pa.concat_tables([pq.read_table(f) for f in files]).sort_by("position")
    assert split.equals(whole)
    # a new export replaces the old directory as a whole
    _export(ledger_url, parts, "--partitions", "2")
    assert sorted(p.name for p in parts.iterdir()) == [
        "_xinyong_export.json",
        "part=00000",
        "part=00001",
    ]
    refused = runner.invoke(
        app, ["export", "--out", str(single), "--partitions", "2", "--db", ledger_url]
    )
    assert refused.exit_code == 2
    assert "writes a directory" in refused.output


def test_an_export_never_replaces_a_directory_it_did_not_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    synthetic_ledger(url, tmp_path)
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("years of work", encoding="utf-8")
    refused = runner.invoke(app, ["export", "--out", str(mine), "--partitions", "2", "--db", url])
    assert refused.exit_code == 2
    assert "not an earlier export" in refused.output
    assert (mine / "chapter1.tex").read_text(encoding="utf-8") == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".thesis")) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    _export(url, empty, "--partitions", "2")  # an empty directory will do
    _export(url, empty, "--partitions", "3")  # and so does an earlier export
    assert sorted(p.name for p in empty.iterdir()) == [
        "_xinyong_export.json",
        "part=00000",
        "part=00001",
        "part=00002",
    ]


@pytest.mark.parametrize("pilot", ["rongcheng", "tax-credit"])
def test_scanned_export_scores_like_the_file(tmp_path: Path, pilot: str) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    synthetic_ledger(url, tmp_path)
    single, parts = tmp_path / "all.parquet", tmp_path / "parts"
    _export(url, single)
    _export(url, parts, "--partitions", "3")
    scheme = str(bundled_pilots()[pilot])
    common = ("--as-of", AS_OF)
    scanned = score_cli(scheme, "--records", str(parts), *common, "--out", str(tmp_path / "a.csv"))
    from_file = score_cli(
        scheme, "--records", str(single), *common, "--out", str(tmp_path / "b.csv")
    )
    reference = score_cli(
        scheme,
        "--records",
        str(parts),
        *common,
        "--engine",
        "python",
        "--out",
        str(tmp_path / "c.csv"),
    )
    assert scanned == from_file
    assert len(scanned) > 10  # tax-credit scores the organizations with records
    assert [r["subject_id"] for r in scanned] == [r["subject_id"] for r in reference]
    for got, want in zip(scanned, reference, strict=True):
        assert abs(float(got["score"]) - float(want["score"])) <= 0.01
        assert (got["grade"], got["lists"], got["measures"]) == (
            want["grade"],
            want["lists"],
            want["measures"],
        )


def test_a_scanned_dataset_with_bad_rows_is_refused(tmp_path: Path) -> None:
    data = bad_dataset(tmp_path / "bad")
    scheme = str(bundled_pilots()["rongcheng"])
    result = runner.invoke(app, ["score", scheme, "--records", str(data), "--as-of", AS_OF])
    assert result.exit_code == 2
    assert "subject_id: missing: 1 row(s) (first record_id b3)" in result.output
    assert "subject_kind: must be person or organization: 2 row(s) (first record_id b1)" in (
        result.output
    )


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original: Callable[..., Any] = ledger_run.effective_table

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ledger_run, "effective_table", counted)
    return calls


def test_refresh_reads_the_ledger_once_for_every_scheme(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthetic_ledger(ledger_url, tmp_path)
    pilots = ["judgment-defaulters", "rongcheng", "tax-credit", "xiamen-egret"]
    loaded = [load_scheme(bundled_pilots()[p]) for p in pilots]
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn, conn.begin():
            for scheme in loaded:
                add_scheme(conn, scheme)
        today = date.fromisoformat(AS_OF)
        with engine.connect() as conn:
            size = read_head(conn).size
            together = score_ledger_all(conn, [s.scheme for s in loaded], today, None, size)
            one_by_one = [
                score_ledger(conn, s.scheme, today, Engine.DUCKDB, None, size)[0] for s in loaded
            ]
        assert [t.to_pylist() for t in together] == [t.to_pylist() for t in one_by_one]
        calls = _counting(monkeypatch)
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            changed = refresh_all(conn, SchemeRegistry(), today, None)
        assert calls == [1]
        assert sorted(changed) == pilots
        with engine.connect() as conn:
            runs = conn.exec_driver_sql("SELECT scheme_id, known_at FROM standing_runs").all()
            saved = conn.exec_driver_sql("SELECT count(*) FROM standings").scalar()
        assert sorted(r[0] for r in runs) == pilots
        assert {r[1] for r in runs} == {size}
        assert saved == sum(t.num_rows for t in together)
    finally:
        engine.dispose()
