"""Scoring as whole processes: ``xinyong score`` against a hand-written DuckDB script.

What a user runs, timed from the parent as wall time of a new process (imports, reading the
scheme and the catalog, checking the file, scoring, writing the standings as Parquet):

- **(a) xinyong**: ``xinyong score rongcheng --records FILE.parquet --as-of D --out A.parquet``,
  with the scheme version's SQL compiled before (a cache directory of the run's own, filled by
  one untimed run first: **(a) cold** is that first run, reported beside it);
- **(b) by hand**: ``python bench/hand_rongcheng.py FILE.parquet B.parquet --as-of D``, the
  pilot written by hand in DuckDB SQL over the same file (the records the catalog still shows),
  in a process that imports DuckDB and nothing else;
- **(b + checks)**: the same script with ``--checks``: before scoring, it refuses a file with
  rows that have no subject, code or date or another kind, a subject named with two kinds, or a
  subject id of no known shape, as a careful script would. ``xinyong score`` always checks
  all of these (and more: every id is canonical, not only of the right shape), so (a) over
  (b + checks) compares the same job, and (a) over (b) shows what the checks cost.

The three alternate ``--repeat`` times; medians are reported, with each process's peak RSS.
The standings of (a) and (b) must be the same for every subject (the run fails otherwise).

The records are ``xinyong synth`` output (``--people``, cached in ``--workdir``; 1,000,000
people give 18.8 million records, the issue's size). Run as ``python bench/score_process.py``
(``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import xinyong.pilots
from benchkit import machine, median
from hand_rongcheng import DISPLAY_DAYS
from score import AS_OF, check_pilot, synthesize
from xinyong.domain.catalog import load_catalog
from xinyong.schemes.load import load_scheme

PILOT = Path(xinyong.pilots.__file__).with_name("rongcheng.toml")
HAND = Path(__file__).with_name("hand_rongcheng.py")
GOAL = 1.1
"""Issue 21: (a) at most this multiple of the hand-written query, as whole processes."""


@dataclass
class Phase:
    """Wall times (s) and peak RSS (MiB) of one kind of process."""

    label: str
    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.seconds)


def run_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` to completion; its wall time (s) and peak RSS (MiB). Fails loudly."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{errors[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def check_display_days(expected: dict[str, int]) -> list[str]:
    """Where the bundled catalog no longer shows a code as long as a hand-written table says."""
    catalog = load_catalog()
    problems = []
    for code, days in expected.items():
        entry = catalog.codes.get(code)
        if entry is None or entry.max_display_days != days:
            found = None if entry is None else entry.max_display_days
            problems.append(f"{code}: the catalog shows it {found} days, the script {days}")
    return problems


def population_options(parser: argparse.ArgumentParser) -> None:
    """The options of the synthetic records, the repeats, the work directory and the output."""
    parser.add_argument("--people", type=int, default=1_000_000, help="synthetic people")
    parser.add_argument("--orgs", type=int, default=20_000, help="synthetic organizations")
    parser.add_argument("--years", type=int, default=5, help="years of synthetic records")
    parser.add_argument("--seed", type=int, default=7, help="seed of synth")
    parser.add_argument("--repeat", type=int, default=3, help="runs per process; medians")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/xinyong-bench"))
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def mismatches(left: Path, right: Path) -> int:
    """Subjects whose standings differ between two standings files (score within 0.01)."""
    a = {r["subject_id"]: r for r in pq.read_table(left).to_pylist()}
    b = {r["subject_id"]: r for r in pq.read_table(right).to_pylist()}
    wrong = len(a.keys() ^ b.keys())
    for subject in a.keys() & b.keys():
        x, y = a[subject], b[subject]
        if abs(x["score"] - y["score"]) > 0.01 or any(
            (x[k] or "") != (y[k] or "") for k in ("grade", "lists", "measures")
        ):
            wrong += 1
    return wrong


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when the two disagree."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    population_options(parser)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    problems = check_pilot(load_scheme(PILOT).scheme) + check_display_days(DISPLAY_DAYS)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("update bench/hand_rongcheng.py to match", file=sys.stderr)
        return 1
    records, _, _ = synthesize(args)
    rows = pq.ParquetFile(records).metadata.num_rows
    cache = args.workdir / "process-cache"
    env = {**os.environ, "XINYONG_CACHE_DIR": str(cache)}
    for stale in cache.glob("compiled/*.json"):
        stale.unlink()
    out_a, out_b = args.workdir / "standings-a.parquet", args.workdir / "standings-b.parquet"
    xinyong = [sys.executable, "-m", "xinyong", "score", str(PILOT), "--records", str(records)]
    xinyong += ["--as-of", AS_OF.isoformat(), "--out", str(out_a)]
    hand = [sys.executable, str(HAND), str(records), str(out_b), "--as-of", AS_OF.isoformat()]
    phases = {
        "a_cold": Phase("(a) xinyong score, first run (compiles the scheme)"),
        "a": Phase("(a) xinyong score"),
        "b": Phase("(b) hand-written script"),
        "b_checks": Phase("(b + checks) hand-written script with --checks"),
    }
    commands = {"a_cold": xinyong, "a": xinyong, "b": hand, "b_checks": [*hand, "--checks"]}
    order = ["a_cold"] + ["a", "b", "b_checks"] * args.repeat
    for name in order:
        seconds, peak = run_process(commands[name], env)
        phases[name].seconds.append(seconds)
        phases[name].peak_mib.append(peak)
        print(f"{phases[name].label}: {seconds:.2f} s, {peak:,.0f} MiB", file=sys.stderr)
    wrong = mismatches(out_a, out_b)
    a, b, checked = phases["a"].median, phases["b"].median, phases["b_checks"].median
    result: dict[str, Any] = {
        "machine": machine("duckdb"),
        "records": rows,
        "records_file": str(records),
        "phases": {
            name: {**asdict(phase), "median": phase.median} for name, phase in phases.items()
        },
        "a_over_b": a / b,
        "a_over_b_checks": a / checked,
        "runs_a_over_b": [
            x / y for x, y in zip(phases["a"].seconds, phases["b"].seconds, strict=True)
        ],
        "goal": GOAL,
        "mismatches": wrong,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for phase in phases.values():
            peak = max(phase.peak_mib)
            print(f"{phase.label}: median {phase.median:.2f} s, peak {peak:,.0f} MiB")
        print(f"(a)/(b) {a / b:.2f}; (a)/(b + checks) {a / checked:.2f} (goal <= {GOAL})")
        print(f"{rows:,} records; {wrong} subjects whose standings differ")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
