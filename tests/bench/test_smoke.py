"""Every benchmark under bench/ runs end to end at a tiny size, so that none breaks unnoticed.

Not a measurement: each run is seconds long on a toy input, and only its completion and the
shape of its report are checked (the figures are in docs/benchmarks.md, measured at full size).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run(script: str, *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _json(text: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(text[text.index("{") :])
    return result


def test_check_benchmark(tmp_path: Path) -> None:
    out = _run(
        "check.py",
        *("--people", "400", "--checks", "30", "--duration", "1", "--warmup", "0.2"),
        *("--quiet-limit", "0"),  # the other test workers keep the machine busy
        *("--repeat", "1"),
        # two workers: the servers' app factories; the mixed phase serves one worker in process
        *("--mixed-repeat", "1", "--rate", "50", "--ingest-rate", "100", "--workers", "2"),
        *("--workdir", str(tmp_path), "--json"),
    )
    result = _json(out)
    assert result["in_process"]["n"] == 30
    assert set(result["http"]) == {"2"}
    for measured in result["http"].values():
        assert measured["median_requests_per_s"]["xinyong"] > 0
        assert measured["ratio"] > 0
    assert result["mixed"]["rounds"] == 1
    # the offered records are acceptable (a rating comes with its interaction), bar a rare
    # rating past its rater's daily limit (the round offers a batch of 100)
    (rejected,) = result["mixed"]["records_rejected"]
    assert rejected <= 5, result["mixed"]
    _assert_cpu_per_check(result["mixed"]["checks_alone_cpu_ms_per_check"])
    # the bare endpoint may do its few requests within one 10 ms tick
    _assert_cpu_per_check(result["mixed"]["bare_alone_cpu_ms_per_check"], some=False)


def _assert_cpu_per_check(measured: dict[str, dict[str, object]], *, some: bool = True) -> None:
    """CPU per check of one round: the server's processes used some, and the machine's count
    holds them (both are counted in 10 ms ticks, per process for the server's)."""
    server, machine = measured["server_ms"]["median"], measured["machine_ms"]["median"]
    assert isinstance(server, float)
    assert isinstance(machine, float)
    assert server > 0 if some else server >= 0
    assert machine >= server - 1.0


def _assert_the_signed_floor_tree_holds(db: str) -> None:
    """The last signed floor's tree: every answered request in place, and the last head's root
    the RFC 9162 root of them all."""
    import psycopg

    from xinyong.ledger.merkle import root_of

    with psycopg.connect(db.replace("+psycopg", "")) as conn:
        leaves = conn.execute(
            "SELECT position, leaf_hash FROM bench_floor_tree ORDER BY 1"
        ).fetchall()
        head = conn.execute("SELECT size, root FROM bench_floor_heads ORDER BY size DESC LIMIT 1")
        size, root = head.fetchone() or (0, b"")
    assert leaves, "the signed floor logged nothing"
    assert [position for position, _ in leaves] == list(range(len(leaves)))
    assert (size, bytes(root)) == (len(leaves), root_of([bytes(leaf) for _, leaf in leaves]))


RECORDS_PER_BATCH = 10
"""Records per POST in the PostgreSQL smoke run: at 100 records/s, several batches a second."""


def _assert_the_records_path_measured(records: dict[str, Any]) -> None:
    """The records phase timed every part of each batch, xinyong's whole being its parts."""
    assert records["batches"] == 3
    for part in ("append", "refresh", "xinyong", "raw"):
        assert records[part]["wall_ms"] > 0, records
        assert records[part]["process_cpu_ms"] > 0, records
    assert records["process_cpu_ratio"] > 0
    # the machine's CPU is counted in 10 ms ticks: three raw batches may take none
    assert records["machine_cpu_ratio"] is None or records["machine_cpu_ratio"] > 0


def _assert_the_records_floor_appended(db: str, result: dict[str, Any]) -> None:
    """The records floor (beside which the check floor is measured) answered each batch only
    with its rows in the table: every record it counted is there, at its own position."""
    import psycopg

    (round_,) = result["mixed_rounds"]
    taken = round_["floor"]["records_floor"]
    assert taken["not_ok"] == 0, taken
    assert taken["errors"] == 0, taken
    assert result["mixed"]["floor_with_records_floor_p99_ms"]["median"] is not None
    with psycopg.connect(db.replace("+psycopg", "")) as conn:
        count, first, last = conn.execute(
            "SELECT count(*), min(position), max(position) FROM bench_floor_records"
        ).fetchone() or (0, None, None)
    # every batch sent, the warm-up's too (appended, not counted), in several batches
    batches = taken["warm_up_requests"] + taken["statuses"]["200"]
    assert batches > 1, taken
    assert (
        count
        == batches * RECORDS_PER_BATCH
        == taken["records_accepted"] + (taken["warm_up_requests"] * RECORDS_PER_BATCH)
    )
    assert (first, last) == (1, count)


@pytest.mark.postgres
def test_check_benchmark_on_postgresql(tmp_path: Path) -> None:
    out = _run(
        "check.py",
        *("--backend", "postgres", "--people", "300", "--checks", "20"),
        *("--phases", "inproc,records,http,mixed", "--duration", "0.5", "--warmup", "0.2"),
        *("--repeat", "1", "--mixed-repeat", "1", "--rate", "50", "--ingest-rate", "100"),
        *("--mixed-floor", "floor-read-signed", "--quiet-limit", "0", "--record-batches", "3"),
        *("--ingest-batch", str(RECORDS_PER_BATCH)),
        *("--workdir", str(tmp_path), "--json"),
    )
    result = _json(out)
    assert result["in_process"]["n"] == 20
    _assert_the_records_path_measured(result["records"])
    assert result["mixed"]["floor_app"] == "floor-read-signed"
    _assert_cpu_per_check(result["mixed"]["floor_alone_cpu_ms_per_check"])
    _assert_cpu_per_check(result["mixed"]["checks_alone_cpu_ms_per_check"])
    http = result["http"]["1"]  # xinyong, the five floors and the bare endpoint
    floors = {"floor", "floor-read", "floor-tree", "floor-signed", "floor-read-signed"}
    assert set(http["median_requests_per_s"]) == {"xinyong", "bare", *floors}
    assert all(rate > 0 for rate in http["median_requests_per_s"].values())
    for floor in floors:
        assert http[f"{floor.replace('-', '_')}_ratio"] > 0
    db = "postgresql+psycopg://postgres@127.0.0.1:5432/xinyong_bench_check_p300_o0_y1_s0"
    _assert_the_signed_floor_tree_holds(db)
    _assert_the_records_floor_appended(db, result)
    plans = _run("check_plans.py", "--db", db, "--subjects", "4")
    assert "CURRENT_MANY" in plans
    assert "computed check (" in plans


@pytest.mark.postgres
def test_ingest_benchmark(tmp_path: Path) -> None:
    out = _run(
        "ingest.py",
        *("--rows", "2000", "--repeat", "1", "--engines", "sqlite,postgresql"),
        *("--workdir", str(tmp_path), "--json"),
    )
    results = {r["engine"]: r for r in _json(out)["results"]}
    assert set(results) == {"sqlite", "postgresql"}
    for result in results.values():
        assert result["ratio"] > 0
        for label in ("xinyong", "raw"):
            (seconds,) = result[f"{label}_seconds"]
            (process_cpu,) = result[f"{label}_process_cpu_s"]
            (machine_cpu,) = result[f"{label}_machine_cpu_s"]
            assert seconds > 0
            # the machine's CPU holds the loading process's (counted in 10 ms ticks)
            assert machine_cpu >= process_cpu - 0.05
        (machine_cpu,) = result["xinyong_machine_cpu_s"]
        expected = machine_cpu / result["cores"] / result["raw_seconds"][0]
        assert abs(result["cpu_bound_ratio"] - expected) < 1e-9


def test_score_benchmark(tmp_path: Path) -> None:
    out = _run(
        "score.py",
        *("--people", "300", "--orgs", "30", "--years", "1", "--repeat", "1"),
        *("--latency-subjects", "10", "--no-memory-children", "--workdir", str(tmp_path)),
        "--json",
    )
    batch = _json(out)["batch"]
    # the baselines compute the pilot exactly, or the ratio compares different work
    assert batch["mismatches_b"] == 0
    assert batch["mismatches_c"] == 0
    assert batch["reference_mismatches"] == 0


def test_score_process_benchmark(tmp_path: Path) -> None:
    out = _run(
        "score_process.py",
        *("--people", "300", "--orgs", "30", "--years", "1", "--repeat", "1"),
        *("--workdir", str(tmp_path), "--json"),
    )
    result = _json(out)
    # the hand-written script scores the pilot exactly, or the ratio compares different work
    assert result["mismatches"] == 0
    assert set(result["phases"]) == {"a_cold", "a", "b", "b_checks"}
    assert result["a_over_b"] > 0


def test_score_random_benchmark(tmp_path: Path) -> None:
    out = _run(
        "score_random.py",
        *("--people", "300", "--orgs", "30", "--years", "1", "--repeat", "1"),
        *("--schemes", "3", "--workdir", str(tmp_path), "--json"),
    )
    result = _json(out)
    # the independently generated SQL agrees with xinyong on every subject of every scheme
    assert result["mismatches"] == 0
    assert len(result["schemes"]) == 3


def test_peer_benchmark() -> None:
    out = _run(
        "peer.py",
        *("--subjects", "300", "--ratings", "2000", "--repeat", "1", "--updates", "3"),
    )
    assert "ratings" in out


def test_lab_benchmark() -> None:
    out = _run("lab.py", "--people", "300", "--skip-big", "--repeat", "1", "--town", "300")
    assert "peer_town" in out
    assert "'same_graph': True" in out


def test_scale_benchmark(tmp_path: Path) -> None:
    out = _run(
        "scale.py",
        *("--sizes", "0.002", "--engines", "duckdb", "--chunk", "1000", "--sample", "20"),
        *("--workdir", str(tmp_path)),
    )
    assert out.strip()


def test_ledger_scale_benchmark(tmp_path: Path) -> None:
    report = _json(
        _run(
            "ledger_scale.py",
            *("--subjects", "0.001", "--chunk", "500", "--workdir", str(tmp_path), "--json"),
        )
    )
    assert report["verify"]["ok"]
    assert report["verify"]["problems"] == 0
    assert report["sizes"]["records"] == sum(f["rows"] for f in report["files"])
    assert report["verify"]["size"] >= report["sizes"]["records"]
    assert report["baseline"]["ratio"] > 0


def test_receipt_benchmark() -> None:
    out = _run("receipt.py", "--people", "300", "--checks", "40")
    assert "the receipt adds" in out
    assert "the receipt alone: p50" in out
    assert "keeping the subtrees of the ledger" in out


def test_proofs_benchmark() -> None:
    out = _run("proofs.py", "--entries", "3000", "--proofs", "3")
    assert "(a) inclusion:" in out
    assert "inclusion / read at p50" in out


def test_startup_benchmark() -> None:
    result = _json(_run("startup.py", "--runs", "1", "--json"))
    assert set(result["median_seconds"]) == {
        "python -c pass",
        "xinyong --version",
        "xinyong --help",
        "xinyong id check",
    }
    assert result["ratio_to_python"]["python -c pass"] == 1.0
