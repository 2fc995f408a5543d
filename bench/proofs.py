"""Inclusion and consistency proof times on a ledger of ``--entries`` entries.

Builds a SQLite ledger of synthetic records (appended in batches of 50,000 with
``append_batch``, as ingest does), then times, for ``--proofs`` random requests each:

- (a) ``prove_inclusion(conn, index, size)`` and ``prove_consistency(conn, first, size)``;
- (b) the baseline in the same run: reading the tree's leaf hashes alone (one ``SELECT`` over
  the three entry tables, what every proof starts with today).

The first proof of a ledger in a process reads every leaf hash once to keep the roots of
complete subtrees (:mod:`xinyong.ledger.subtrees`); it is timed on its own. Prints p50 and p99
of the proofs after it and of (b), and the ratio (a)/(b). The goal (issue 19) is p99 < 5 ms at
10M entries.

    python bench/proofs.py --entries 10000000 --proofs 200
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select, union_all

from benchkit import machine, percentile
from xinyong.ledger.append import Batch, append_batch, read_size
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.proofs import prove_consistency, prove_inclusion
from xinyong.ledger.schema import events, records, subjects

BATCH = 50_000
BASELINE_RUNS = 3
"""How often (b) runs: it reads every leaf hash, seconds at 10M entries."""


def _ms(values: list[float]) -> str:
    p50, p99 = percentile(values, 0.5) * 1e3, percentile(values, 0.99) * 1e3
    return f"p50 {p50:,.1f} ms, p99 {p99:,.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {json.dumps(machine())}", flush=True)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as workdir:
        engine = open_database(f"sqlite:///{Path(workdir) / 'ledger.db'}")
        started = time.perf_counter()
        for first in range(0, args.entries, BATCH):
            rows = [
                (
                    "bench",
                    f"p{n}",
                    f"ext:s{n % 50_000}",
                    "person",
                    "traffic.violation",
                    date(2025, 1, 1 + n % 28),
                    None,
                    "{}",
                    None,
                )
                for n in range(first, min(first + BATCH, args.entries))
            ]
            with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
                append_batch(conn, Batch(records=rows), "bench")
        built = time.perf_counter() - started
        inclusion: list[float] = []
        consistency: list[float] = []
        reads: list[float] = []
        with engine.connect() as conn:
            size = read_size(conn)
            began = time.perf_counter()
            prove_inclusion(conn, rng.randrange(size), size)  # keeps the subtrees: once
            first_proof = time.perf_counter() - began
            for number in range(args.proofs):
                if number < BASELINE_RUNS:  # (b) takes seconds at 10M: a few runs suffice
                    began = time.perf_counter()
                    parts = [
                        select(t.c.position, t.c.leaf_hash).where(t.c.position < size)
                        for t in (subjects, records, events)
                    ]
                    query = union_all(*parts).subquery()
                    conn.execute(select(query.c.leaf_hash).order_by(query.c.position)).all()
                    reads.append(time.perf_counter() - began)
                began = time.perf_counter()
                prove_inclusion(conn, rng.randrange(size), size)
                inclusion.append(time.perf_counter() - began)
                began = time.perf_counter()
                prove_consistency(conn, rng.randrange(1, size), size)
                consistency.append(time.perf_counter() - began)
        engine.dispose()
    print(f"{size:,} entries (built in {built:,.1f} s), {args.proofs} proofs of each kind")
    print(f"the first proof, which reads every leaf hash once: {first_proof:,.2f} s")
    print(f"(a) inclusion:   {_ms(inclusion)}")
    print(f"(a) consistency: {_ms(consistency)}")
    print(f"(b) reading the leaf hashes alone ({len(reads)} runs): {_ms(reads)}")
    ratio = percentile(inclusion, 0.5) / percentile(reads, 0.5)
    print(f"inclusion / read at p50: {ratio:.2e}; goal p99 < 5 ms at 10M entries")


if __name__ == "__main__":
    main()
