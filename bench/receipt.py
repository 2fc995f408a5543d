"""What a decision receipt costs a check, in process.

Builds a SQLite ledger from ``xinyong synth`` (``--people``), activates the bundled
``judgment-defaulters`` pilot, registers a relying party for one of its measures, and decides a
check for ``--checks`` random people (``decide_measure``, the computed path) twice in
alternation: (a) the decision alone, (b) the decision and its signed receipt
(``xinyong.decisions.receipts.receipt``: the JSON statement and an Ed25519 signature, the
purpose and tree head cached as the service caches them). Prints p50 and p99 of each and the
receipt's added cost; the goal (issue 19) is under 1 ms at p50. An adverse answer's receipt
also proves the entries it rests on (its grounds): its cost is printed on its own, after the
ledger's subtrees are kept (``xinyong.ledger.proofs.warm``, as the service does at start;
timed too).

    python bench/receipt.py --people 20000 --checks 2000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from benchkit import machine, percentile
from xinyong.application.receipts import Receipts
from xinyong.decisions.checks import Registrations, decide_measure
from xinyong.decisions.relying import register_relying_party
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import load_catalog
from xinyong.ingest.files import ingest_records
from xinyong.ingest.subjects import load_subjects
from xinyong.ledger.database import open_database
from xinyong.ledger.proofs import warm
from xinyong.ledger.signed_head import ledger_key
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.scoring.store import add_scheme
from xinyong.synth import SynthConfig, generate
from xinyong.synth.dataset import write

MEASURE = "no-premium-travel"
AS_OF = date(2026, 10, 31)


def _ledger(workdir: str, people: int, seed: int) -> tuple[Engine, list[str]]:
    """A SQLite ledger of synthetic people with the pilot active; the people's ids."""
    catalog = load_catalog()
    records = Path(workdir) / "synth.parquet"
    dataset = generate(SynthConfig(people=people, organizations=people // 20, seed=seed))
    subjects = write(dataset, records)
    engine = open_database(f"sqlite:///{workdir}/ledger.db")
    load_subjects(engine, subjects)
    ingest_records(engine, records, catalog, today=AS_OF)
    loaded = load_scheme(bundled_pilots()["judgment-defaulters"])
    with engine.begin() as conn:
        add_scheme(conn, loaded, catalog=catalog)
        register_relying_party(conn, "bench", [MEASURE], "bench: the receipt's cost")
    ids = dataset.subjects.column("subject_id").to_pylist()
    return engine, [s for s in ids if s[0].isdigit()]


def _ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1e3


def _line(values: list[float]) -> str:
    return f"p50 {_ms(values, 0.5):.3f} ms, p99 {_ms(values, 0.99):.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--checks", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {json.dumps(machine())}", flush=True)
    catalog = load_catalog()
    alone: list[float] = []
    signed: list[float] = []
    signing: list[float] = []
    grounded: list[float] = []
    with tempfile.TemporaryDirectory() as workdir:
        engine, people = _ledger(workdir, args.people, args.seed)
        chosen = random.Random(args.seed).sample(people, min(args.checks, len(people)))
        registry, registrations = SchemeRegistry(60.0, catalog), Registrations(60.0)
        receipts = Receipts(engine, 60.0)
        with engine.connect() as conn:
            key = ledger_key(conn)
            started = time.perf_counter()
            warm(conn)
            warmed = time.perf_counter() - started
            size = conn.exec_driver_sql("SELECT max(size) FROM checkpoints").scalar()
            conn.rollback()
            for number, subject in enumerate(chosen):
                with conn.begin():
                    started = time.perf_counter()
                    decision, notice = decide_measure(
                        conn, registry, "bench", subject, MEASURE, AS_OF, catalog, registrations
                    )
                    decided = time.perf_counter()
                    if number % 2:
                        receipts.make(key, decision, (), conn, notice)
                        done = time.perf_counter()
                        signed.append(done - started)
                        (signing if notice is None else grounded).append(done - decided)
                    else:
                        alone.append(decided - started)
        engine.dispose()
    print(f"{len(alone) + len(signed)} checks of {MEASURE} over {args.people:,} people")
    print(f"(a) decision alone:          {_line(alone)}")
    print(f"(b) decision and receipt:    {_line(signed)}")
    added = _ms(signed, 0.5) - _ms(alone, 0.5)
    print(
        f"the receipt adds {added:.3f} ms at p50 (goal < 1 ms: {'met' if added < 1 else 'NOT met'})"
    )
    mean_a, mean_b = statistics.fmean(alone) * 1e3, statistics.fmean(signed) * 1e3
    print(f"mean (a) {mean_a:.3f} ms, (b) {mean_b:.3f} ms")
    print(f"the receipt alone: p50 {_ms(signing, 0.5):.3f} ms, p99 {_ms(signing, 0.99):.3f} ms")
    if grounded:
        print(
            f"an adverse answer's receipt, with its grounds proven ({len(grounded)} of "
            f"{len(signed)}): p50 {_ms(grounded, 0.5):.3f} ms, p99 {_ms(grounded, 0.99):.3f} ms"
        )
    print(f"keeping the subtrees of the ledger's {size:,} entries: {warmed:.2f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
