"""A ledger of 100 million records on PostgreSQL: loaded with the CLI, then verified.

What an operator would run, timed as whole processes:

1. **Data**: the synthetic records of ``--subjects`` million subjects (``bench/scale.py``'s
   generator: one Parquet file per million subjects, about ten records each; cached in
   ``--workdir``, not timed).
2. **Load**: ``xinyong ledger init`` then ``xinyong ingest --db URL FILE`` for every file, one
   process after another, into a fresh PostgreSQL database. Each file's time and rows/s are
   reported, so a rate that falls as the tables and their indexes grow shows.
3. **Verify**: ``xinyong ledger verify --db URL --json``, which recomputes every leaf hash and
   every checkpoint root from the rows.
4. **Size**: the database, the ``records`` table with its indexes, and the rows it holds.

Baseline, in the same run: the first file bulk-loaded with ``COPY ... FROM STDIN`` into a table
with ``records``' columns and indexes but no ``leaf_hash`` (``bench/ingest.py``'s raw load), in
a database of its own, against the time of the first file's ``xinyong ingest``.

The database is dropped at the end unless ``--keep``. Run as ``python bench/ledger_scale.py``
(``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from benchkit import machine, timed
from ingest import DEFAULT_PG_URL, Databases, run_raw_postgresql
from scale import synthesize

XINYONG = [sys.executable, "-m", "xinyong"]


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _cli(*args: str) -> tuple[float, str]:
    """Run one ``xinyong`` command to completion; its wall time and standard output."""
    started = time.perf_counter()
    done = subprocess.run([*XINYONG, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"xinyong {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}"
            f"\n{done.stderr[-2000:]}"
        )
    return seconds, done.stdout


def _sizes(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT pg_database_size(current_database()), pg_total_relation_size('records'),"
            " pg_relation_size('records'), (SELECT count(*) FROM records),"
            " (SELECT count(*) FROM subjects), (SELECT count(*) FROM checkpoints)"
        ).one()
    engine.dispose()
    database, total, heap, rows, subjects, checkpoints = (int(v) for v in row)
    return {
        "database_bytes": database,
        "records_bytes_with_indexes": total,
        "records_heap_bytes": heap,
        "records": rows,
        "subjects": subjects,
        "checkpoints": checkpoints,
    }


def load(url: str, files: list[Path], batch_size: int) -> list[dict[str, Any]]:
    """Ingest ``files`` one CLI process each; per file, its rows, seconds and rows/s."""
    _cli("ledger", "init", "--db", url)
    loaded: list[dict[str, Any]] = []
    total_rows = 0
    total_seconds = 0.0
    for path in files:
        rows = pq.ParquetFile(path).metadata.num_rows
        seconds, _ = _cli("ingest", "--db", url, "--batch-size", str(batch_size), str(path))
        total_rows += rows
        total_seconds += seconds
        loaded.append({"file": path.name, "rows": rows, "seconds": round(seconds, 2)})
        _say(
            f"{path.name}: {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s); "
            f"{total_rows:,} in {total_seconds:.0f} s"
        )
    return loaded


def verify(url: str) -> tuple[float, dict[str, Any]]:
    """``xinyong ledger verify --json``: its time and report; fails unless the ledger is intact."""
    seconds, out = _cli("ledger", "verify", "--db", url, "--json")
    report: dict[str, Any] = json.loads(out)
    return seconds, report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--subjects", type=float, default=10, help="millions of subjects (10: ~100M records)"
    )
    parser.add_argument("--chunk", type=int, default=1_000_000, help="subjects per data file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=50_000, help="xinyong ingest's")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server to create databases on")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/xinyong-bench-ledger-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.subjects <= 0 or args.chunk < 1 or args.batch_size < 1:
        parser.error("--subjects, --chunk and --batch-size must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the data, load it, verify it, report."""
    cli = sys.argv[1:] if argv is None else argv
    args = parse_args(cli)
    data = args.workdir / f"data-{args.subjects:g}m-{args.chunk}-{args.seed}"
    info = synthesize(data, args.subjects, args.chunk, args.seed)
    files = sorted((data / "records").glob("part-*.parquet"))
    _say(f"data: {info['records']:,} records of {info['subjects']:,} subjects, {len(files)} files")
    databases = Databases("postgresql", args.workdir, args.pg_url)
    result: dict[str, Any] = {"data": info, "server": databases.server_version()}
    try:
        raw_url = databases.create()
        try:
            raw_rows = pq.ParquetFile(files[0]).metadata.num_rows
            raw_seconds, _ = timed(lambda: run_raw_postgresql(raw_url, files[0], raw_rows))
        finally:
            databases.drop(raw_url)
        _say(f"raw COPY of {files[0].name}: {raw_rows / raw_seconds:,.0f} rows/s")
        url = databases.create()
        try:
            loaded = load(url, files, args.batch_size)
            seconds, report = verify(url)
            _say(f"verified {report.get('size', '?'):,} entries in {seconds:.1f} s")
            result["sizes"] = _sizes(url)
        finally:
            if args.keep:
                _say(f"kept {url}")
            else:
                databases.drop(url)
    finally:
        databases.close()
    load_seconds = sum(f["seconds"] for f in loaded)
    rows = sum(f["rows"] for f in loaded)
    result |= {
        "machine": machine("pyarrow", "psycopg"),
        "command": " ".join(["python", "bench/ledger_scale.py", *cli]),
        "files": loaded,
        "load_seconds": round(load_seconds, 1),
        "load_rows_per_second": round(rows / load_seconds),
        "verify_seconds": round(seconds, 1),
        "verify": {k: report[k] for k in report if k != "problems"}
        | {"problems": len(report.get("problems", []))},
        "baseline": {
            "file": files[0].name,
            "raw_copy_seconds": round(raw_seconds, 2),
            "xinyong_seconds": loaded[0]["seconds"],
            "ratio": round(loaded[0]["seconds"] / raw_seconds, 2),
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        sizes = result["sizes"]
        print(
            f"{rows:,} records loaded in {load_seconds:,.0f} s "
            f"({rows / load_seconds:,.0f} rows/s), "
            f"verified in {seconds:,.0f} s; database {sizes['database_bytes'] / 2**30:.1f} GiB "
            f"(records with indexes {sizes['records_bytes_with_indexes'] / 2**30:.1f} GiB); "
            f"first file {result['baseline']['ratio']}x the raw COPY"
        )
    return 0 if result["verify"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
