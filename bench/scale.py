"""Scale benchmark: one refresh of the ``rongcheng`` pilot on DuckDB and on Spark, by size.

For each size (``--sizes``, millions of subjects: 1, 3 and 10 by default) the script

1. **synthesizes** the subjects (98 % people, 2 % organizations) with
   :func:`xinyong.synth.population.generate_population` in one draw, then their five years of
   conduct records with :func:`xinyong.synth.conduct.generate_conduct` slice by slice
   (``--chunk`` subjects each, each slice from its own seeded generator), writing one Parquet
   file per slice to ``WORKDIR/<size>M/records/part-KKKKK.parquet``: memory stays bounded by a
   slice, and every subject's records are in one file, as in a partitioned ``xinyong export``.
   A ``_SUCCESS`` file marks a complete dataset, which later runs reuse;
2. **refreshes** the pilot over that directory with each engine (``--engines``; DuckDB with its
   default of one thread per core, Spark on ``--spark-master``), each run in a fresh child
   process: ``score_file(scheme, DIR, AS_OF, engine)`` is timed from the call to the standings
   in Arrow in the driver (the engine scans the Parquet files, runs the records checks, scores,
   and returns every standing), then the standings are written to Parquet (timed apart).
   Spark's session start (JVM launch) is timed apart and not counted;
3. measures **peak memory**: the parent samples the resident memory of the child's whole
   process tree (Python, and Spark's JVM) every 0.2 s and keeps the peak of the sum; the child
   also reports the high-water mark (``VmHWM``) of itself and of each descendant (the JVM) just
   before it exits;
4. **checks** that the engines gave identical standings (Arrow ``equals``) and that the
   reference evaluator agrees on ``--sample`` random subjects (their records read back with
   DuckDB), and exits 1 otherwise;
5. **fits** two curves through the median times per engine (:func:`fits`) and extrapolates
   them to 1.4 billion subjects on this machine.

With ``--repeat N`` the engines alternate N times per size and medians are reported.

Run as ``python bench/scale.py`` (``--help`` for options); ``--json`` prints everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import xinyong.pilots
from benchkit import load_average, machine, median
from xinyong.domain.catalog import load_catalog
from xinyong.domain.record_table import input_records
from xinyong.schemes.load import load_scheme
from xinyong.scoring.reference import score_records
from xinyong.scoring.run import Engine, SparkSettings, score_file, standings_from_table
from xinyong.synth.conduct import generate_conduct
from xinyong.synth.dataset import SynthConfig
from xinyong.synth.population import Population, generate_population

AS_OF = date(2026, 10, 31)  # the end of the synthetic window
PILOT = Path(xinyong.pilots.__file__).with_name("rongcheng.toml")
ORG_SHARE = 0.02
TARGET_SUBJECTS = 1_400_000_000
GOAL_DUCKDB_SECONDS = 300.0
GOAL_SPARK_OVER_DUCKDB = 4.0


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ data


def _slice(population: Population, start: int, stop: int) -> Population:
    return Population(
        subject_id=population.subject_id.slice(start, stop - start),
        display_name=population.display_name.slice(start, stop - start),
        is_person=population.is_person[start:stop],
        region=population.region[start:stop],
        band=population.band[start:stop],
        adult_from=population.adult_from[start:stop],
        risk=population.risk[start:stop],
        civic=population.civic[start:stop],
    )


def synthesize(directory: Path, millions: float, chunk: int, seed: int) -> dict[str, Any]:
    """Write (or reuse) the dataset of ``millions`` million subjects; return its description."""
    records_dir = directory / "records"
    marker = directory / "_SUCCESS"
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    subjects = round(millions * 1_000_000)
    organizations = round(subjects * ORG_SHARE)
    config = SynthConfig(people=subjects - organizations, organizations=organizations, seed=seed)
    catalog = load_catalog()
    records_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    population = generate_population(
        np.random.default_rng(seed), config.people, config.organizations
    )
    rows = 0
    for index, start in enumerate(range(0, subjects, chunk)):
        part = _slice(population, start, min(start + chunk, subjects))
        rng = np.random.default_rng([seed, index])
        table = generate_conduct(rng, part, catalog, config.start, config.end)
        # Record ids restart in every slice: prefix them so they stay unique.
        ids = pc.binary_join_element_wise(f"p{index:05d}", table.column("record_id"), "-")
        table = table.set_column(0, "record_id", ids)
        path = records_dir / f"part-{index:05d}.parquet"
        pq.write_table(table, path, row_group_size=1_000_000)
        rows += table.num_rows
        _say(f"  {path.name}: {table.num_rows:,} records ({rows:,} so far)")
        del table, part
    size = sum(p.stat().st_size for p in records_dir.glob("*.parquet"))
    info = {
        "subjects": subjects,
        "people": config.people,
        "organizations": config.organizations,
        "records": rows,
        "parquet_bytes": size,
        "files": len(list(records_dir.glob("*.parquet"))),
        "seconds": round(time.perf_counter() - started, 1),
        "seed": seed,
        "window": [str(config.start), str(config.end)],
    }
    marker.write_text(json.dumps(info))
    return info


# ------------------------------------------------------------------------------ memory


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry))
    return tree


def _descendants(pid: int) -> list[int]:
    tree = _children()
    found, stack = [], [pid]
    while stack:
        for child in tree.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeSampler:
    """Samples the resident memory of a process and its descendants; keeps the peak sum."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid, *_descendants(self.pid)]
            self.peak_kib = max(self.peak_kib, sum(_status_kib(p, "VmRSS") for p in pids))
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib


# ------------------------------------------------------------------------------ child


def child(engine: str, data: Path, out: Path, spark_master: str) -> None:
    """One refresh in this process; print a JSON line with the timings and memory marks."""
    scheme = load_scheme(PILOT).scheme
    settings = SparkSettings(master=spark_master)
    result: dict[str, Any] = {"engine": engine}
    if engine == "spark":
        from xinyong.engines.spark import spark_engine

        started = time.perf_counter()
        spark_engine(settings)
        result["session_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    table = score_file(scheme, data, AS_OF, Engine(engine), settings)
    result["refresh_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    pq.write_table(table, out)
    result["write_seconds"] = round(time.perf_counter() - started, 2)
    result["standings"] = table.num_rows
    result["python_hwm_mib"] = round(_status_kib(os.getpid(), "VmHWM") / 1024)
    result["descendants_hwm_mib"] = [
        round(_status_kib(pid, "VmHWM") / 1024) for pid in _descendants(os.getpid())
    ]
    print(json.dumps(result), flush=True)


def run_child(engine: str, data: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--data",
        str(data),
        "--out",
        str(out),
        "--spark-master",
        args.spark_master,
    ]
    load_before = load_average()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    sampler = TreeSampler(process.pid)
    stdout, _ = process.communicate()
    peak = sampler.stop()
    if process.returncode != 0:
        raise SystemExit(f"{engine} on {data}: the child failed ({process.returncode})")
    result = dict(json.loads(stdout.strip().splitlines()[-1]))
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["tree_peak_rss_mib"] = round(peak / 1024)
    result["load_before"] = load_before
    result["load_after"] = load_average()[0]
    return result


# ------------------------------------------------------------------------------ checks


def reference_sample(data: Path, standings: pa.Table, count: int, seed: int) -> list[str]:
    """Subjects (of ``count`` random ones) whose standing differs from the reference evaluator."""
    import duckdb

    scheme = load_scheme(PILOT).scheme
    ids = standings.column("subject_id").to_pylist()
    chosen = sorted(random.Random(seed).sample(ids, min(count, len(ids))))
    con = duckdb.connect()
    con.register("chosen", pa.table({"subject_id": chosen}))
    records = con.sql(
        f"SELECT * FROM read_parquet('{data}/*.parquet') WHERE subject_id IN "
        "(SELECT subject_id FROM chosen)"
    ).to_arrow_table()
    expected = {
        s.subject_id: s for s in score_records(scheme, list(input_records(data, records)), AS_OF)
    }
    actual = standings.filter(pc.is_in(standings.column("subject_id"), pa.array(chosen)))
    return [
        s.subject_id for s in standings_from_table(actual) if not s.same_as(expected[s.subject_id])
    ]


def fits(sizes: list[dict[str, Any]], engine: str) -> dict[str, Any]:
    """Two curves through the median times by record count, and what they say at 1.4 billion.

    - a power law ``seconds = a * records^b`` (least squares on logarithms): ``b`` near 1 is
      linear growth;
    - a straight line ``seconds = fixed + per_record * records`` (least squares): the fixed
      part is what a run costs whatever its size (planning, scheduling, a JVM warming up), the
      slope what each further record costs on this machine.
    """
    records = np.array([s["data"]["records"] for s in sizes], dtype=float)
    seconds = np.array([s["median"][engine]["refresh_seconds"] for s in sizes], dtype=float)
    b, log_a = np.polyfit(np.log(records), np.log(seconds), 1)
    per_record, fixed = np.polyfit(records, seconds, 1)
    per_subject = records.sum() / sum(s["data"]["subjects"] for s in sizes)
    target = TARGET_SUBJECTS * per_subject
    return {
        "power_law": {"a": float(math.exp(log_a)), "b": float(b)},
        "line": {"fixed_seconds": float(fixed), "seconds_per_million_records": per_record * 1e6},
        "records_per_subject": round(float(per_subject), 2),
        "target_records": round(float(target)),
        "seconds_at_target_here_power_law": round(float(math.exp(log_a) * target**b)),
        "seconds_at_target_here_line": round(float(fixed + per_record * target)),
        "core_seconds_per_million_records": round((os.cpu_count() or 1) * per_record * 1e6, 3),
    }


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1,3,10", help="millions of subjects, comma-separated")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/xinyong-bench-scale"))
    parser.add_argument("--chunk", type=int, default=1_000_000, help="subjects per data file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--sample", type=int, default=1_000, help="subjects checked by reference")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine and size")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=["duckdb", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.data, args.out, args.spark_master)
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    report: dict[str, Any] = {
        "machine": machine("duckdb", "pyarrow"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "sizes": [],
    }
    failed = False
    for text in args.sizes.split(","):
        millions = float(text)
        directory = args.workdir / f"{text}M"
        _say(f"{text}M subjects: data")
        info = synthesize(directory, millions, args.chunk, args.seed)
        entry: dict[str, Any] = {"millions": millions, "data": info, "runs": {}, "median": {}}
        tables: dict[str, pa.Table] = {}
        for repeat in range(args.repeat):
            for engine in engines:  # alternating: both engines see the same background load
                _say(f"{text}M subjects: {engine} ({repeat + 1} of {args.repeat})")
                out = directory / f"standings-{engine}.parquet"
                run = run_child(engine, directory / "records", out, args)
                entry["runs"].setdefault(engine, []).append(run)
                _say(f"  {run}")
                tables[engine] = pq.read_table(out)
        for engine, runs in entry["runs"].items():
            entry["median"][engine] = {
                "refresh_seconds": median(r["refresh_seconds"] for r in runs),
                "tree_peak_rss_mib": max(r["tree_peak_rss_mib"] for r in runs),
            }
        if len(tables) > 1:
            first, *others = tables.values()
            entry["identical"] = all(first.equals(t) for t in others)
            failed |= not entry["identical"]
        if tables:
            some = next(iter(tables.values()))
            wrong = reference_sample(directory / "records", some, args.sample, args.seed)
            entry["reference_disagreements"] = wrong[:10]
            failed |= bool(wrong)
        tables.clear()
        report["sizes"].append(entry)
    report["fits"] = {
        engine: fits(report["sizes"], engine) for engine in engines if len(report["sizes"]) > 1
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for entry in report["sizes"]:
            print(entry)
        print(report["fits"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
