"""Ingest benchmark: xinyong's ingest against the same database's raw bulk load.

For each engine (SQLite, PostgreSQL) and each repeat, two loads of the same Parquet file run in
fresh databases, each in a fresh child process (so peak RSS is per load):

- **xinyong**: ``ingest_records`` into a migrated ledger. Timed from the call to its return:
  reading, validating, deduplicating, subject registration, hashing, Merkle checkpoints, the
  bulk inserts and every commit.
- **raw**: the same rows into a table with the columns and indexes of ``records`` minus
  ``leaf_hash`` (the indexes read from a database migrated as the ledger is), through the
  driver's bulk path (``sqlite3`` ``executemany`` in one transaction, or psycopg's binary
  ``COPY ... FROM STDIN`` with ``write_row``) on a driver connection taken from xinyong's own
  engine, so with the same pragmas (WAL, ``synchronous=NORMAL``). Timed from reading the Parquet
  file (in batches of 50,000 rows, as ingest reads it) to the commit.

The input is deterministic (numpy seed 0): N valid records about N/10 synthetic subjects (20 %
organizations), codes from the bundled catalog valid for the subject's kind, attrs matching the
catalog's declared types.

Run as ``python bench/ingest.py`` (``--help`` for options). Medians over ``--repeat`` runs are
reported; the ratio is median time(xinyong) / median time(raw).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from benchkit import CpuTimed, cpu_timed, machine, median, timed
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.relations import RELATION_CODES
from xinyong.ingest.files import ingest_records
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import records

ENGINES = ("sqlite", "postgresql")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOAL_RATIO = 1.5  # issue 21: time(xinyong) / time(raw), on each engine

SEED = 0
SOURCES = ("court.bench", "bank.bench", "tax.bench", "market.bench")
ORGANIZATION_SHARE = 0.2
FIRST_DAY = date(2015, 1, 1)
LAST_DAY = date(2025, 12, 31)  # every record lies in the past of any run of this benchmark
PARQUET_COLUMNS = (
    "record_id", "subject_id", "subject_kind", "code", "occurred_at", "source", "case_id",
    "attrs", "evidence",
)  # fmt: skip
# The content columns of ``records`` in table order (position first, recorded_at last).
RECORD_COLUMNS = (
    "source", "record_id", "subject_id", "subject_kind", "code", "occurred_at", "case_id",
    "attrs", "evidence",
)  # fmt: skip
RAW_TABLE = "raw_records"
RAW_COLUMNS = ("position", *RECORD_COLUMNS, "recorded_at")
RAW_BINARY_TYPES = (
    "int8", "varchar", "varchar", "varchar", "varchar", "varchar", "date", "varchar", "text",
    "text", "varchar",
)  # fmt: skip
"""PostgreSQL's type of each of ``RAW_COLUMNS``, for the binary ``COPY``."""
RECORDED_AT = "2026-01-01T00:00:00.000000Z"
RAW_BATCH_ROWS = 50_000  # the batch size ingest_records reads with by default


# ------------------------------------------------------------------------------ input data


def _subject_ids(count: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """``count`` distinct synthetic subject ids and a mask of which are organizations."""
    is_org = rng.random(count) < ORGANIZATION_SHARE
    birth_days = rng.integers(0, (date(2005, 12, 31) - date(1950, 1, 1)).days, count)
    first_birth = date(1950, 1, 1).toordinal()
    ids: list[str] = []
    for index in range(count):
        if is_org[index]:
            # serial makes it unique; a region below 18 can never read as a resident ID
            ids.append(synthetic_uscc(index % 18, index))
        else:
            birth = date.fromordinal(first_birth + int(birth_days[index]))
            ids.append(synthetic_resident_id(index // 1000 % 10000, birth, index % 1000))
    return ids, is_org


def _attrs_texts(
    codes: list[str], code_index: np.ndarray, catalog: Catalog, rng: np.random.Generator
) -> list[str]:
    """One JSON object per row with values of the types the catalog declares for its code."""
    rows = len(code_index)
    amounts = rng.integers(100, 5_000_000, rows)
    small = rng.integers(1, 36, rows)
    flags = rng.random(rows) < 0.5
    declared = [list(catalog.codes[code].attrs.items()) for code in codes]
    texts: list[str] = []
    for row, index in enumerate(code_index.tolist()):
        attrs: dict[str, object] = {}
        for name, kind in declared[index]:
            if kind == "boolean":
                attrs[name] = bool(flags[row])
            elif kind == "string":
                attrs[name] = "online" if flags[row] else "branch"
            elif name == "amount":
                attrs[name] = int(amounts[row]) / 100
            else:
                attrs[name] = int(small[row])
        texts.append(orjson.dumps(attrs).decode())
    return texts


def generate_parquet(path: Path, rows: int, catalog: Catalog) -> None:
    """Write ``rows`` valid records to ``path`` (deterministic: numpy seed 0)."""
    rng = np.random.default_rng(SEED)
    ids, is_org = _subject_ids(max(1, rows // 10), rng)
    subject = rng.integers(0, len(ids), rows)
    org = is_org[subject]
    # Conduct records, not peer ratings (those need a rater, stars 1-5 and an interaction id)
    # nor relations (those name a person in attrs.person).
    conduct = [e for e in catalog.codes.values() if e.code not in (*PEER_CODES, *RELATION_CODES)]
    person_codes = [e.code for e in conduct if "person" in e.subject_kinds]
    org_codes = [e.code for e in conduct if "organization" in e.subject_kinds]
    codes = person_codes + org_codes
    code_index = np.where(
        org,
        len(person_codes) + rng.integers(0, len(org_codes), rows),
        rng.integers(0, len(person_codes), rows),
    )
    span = (LAST_DAY - FIRST_DAY).days + 1
    days = np.datetime64(FIRST_DAY.isoformat(), "D") + rng.integers(0, span, rows)
    source_index = rng.integers(0, len(SOURCES), rows)
    has_case = rng.random(rows) < 0.5
    has_evidence = rng.random(rows) < 0.7
    record_ids = [f"R{i:09d}" for i in range(rows)]
    sources = np.array(SOURCES, dtype=object)[source_index]
    table = pa.table(
        {
            "record_id": pa.array(record_ids, pa.string()),
            "subject_id": pa.array(np.array(ids, dtype=object)[subject], pa.string()),
            "subject_kind": pa.array(np.where(org, "organization", "person"), pa.string()),
            "code": pa.array(np.array(codes, dtype=object)[code_index], pa.string()),
            "occurred_at": pa.array(days, pa.date32()),
            "source": pa.array(sources, pa.string()),
            "case_id": pa.array(
                [f"({2015 + i % 11})bench{i:08d}" if c else None for i, c in enumerate(has_case)],
                pa.string(),
            ),
            "attrs": pa.array(_attrs_texts(codes, code_index, catalog, rng), pa.string()),
            "evidence": pa.array(
                [
                    f"https://evidence.example/{s}/{r}" if e else None
                    for s, r, e in zip(sources, record_ids, has_evidence, strict=True)
                ],
                pa.string(),
            ),
        }
    )
    assert tuple(table.column_names) == PARQUET_COLUMNS
    pq.write_table(table, path)


# ------------------------------------------------------------------------------ measurements


@dataclass(slots=True)
class Sample:
    """One timed load, as measured in its child process: wall time, CPU-seconds of the loading
    process and of the whole machine (the database server's included), peak RSS."""

    seconds: float
    process_cpu_s: float
    machine_cpu_s: float
    peak_rss_kib: int

    @classmethod
    def of(cls, timing: CpuTimed) -> Sample:
        """A load timed by :func:`benchkit.cpu_timed`, with this process's peak RSS."""
        return cls(timing.seconds, timing.process_cpu_s, timing.machine_cpu_s, _peak_rss_kib())


def _peak_rss_kib() -> int:
    """The peak RSS of this process, plus that of its largest child (an ingest's preparing
    process, which has ended by now), in KiB on Linux."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def run_xinyong(url: str, parquet: Path, rows: int) -> Sample:
    """Ingest ``parquet`` into a fresh ledger at ``url``; check that it holds ``rows`` records."""
    engine = open_database(url)
    catalog = load_catalog()
    timing, report = cpu_timed(lambda: ingest_records(engine, parquet, catalog))
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one()
    engine.dispose()
    if report.accepted != rows or report.rejected or stored != rows:
        raise AssertionError(
            f"ingest accepted {report.accepted}, rejected {report.rejected}, "
            f"ledger holds {stored} records; expected {rows}"
        )
    return Sample.of(timing)


def _raw_table() -> sa.Table:
    """``records`` without ``leaf_hash``: same columns, types, primary key and unique
    constraint (its other indexes: :func:`_record_indexes`)."""
    columns = [
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                  autoincrement=False)
        for c in records.columns
        if c.name != "leaf_hash"
    ]  # fmt: skip
    assert tuple(c.name for c in columns) == RAW_COLUMNS
    return sa.Table(
        RAW_TABLE,
        sa.MetaData(),
        *columns,
        sa.UniqueConstraint("source", "record_id", name="uq_raw_records_source_record_id"),
    )


def _record_indexes(conn: sa.Connection) -> list[str]:
    """The statements that give ``raw_records`` each index of the migrated ``records`` other
    than its primary key and unique constraint (the subject's, the partial peer and relation
    indexes), read from the database, so that the baseline follows the ledger's migrations.
    (Until 2026-12-05 the raw table had an index on ``subject_id`` alone and none of the partial
    ones, the indexes of ``records`` when the benchmark was written.)"""
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'records' AND sql IS NOT NULL"
        ).all()
        target = " ON records "
    else:
        found = conn.exec_driver_sql(
            "SELECT i.indexname, i.indexdef FROM pg_indexes AS i WHERE i.tablename = 'records' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname)"
        ).all()
        target = " ON public.records "
    statements: list[str] = []
    for name, sql in found:
        if sql.count(target) != 1 or f"INDEX {name} " not in sql:
            raise AssertionError(f"cannot copy the index {name} of records: {sql}")
        renamed = sql.replace(f"INDEX {name} ", f"INDEX raw_{name} ", 1)
        statements.append(renamed.replace(target, target.replace("records", RAW_TABLE), 1))
    if not any("subject_id" in statement for statement in statements):
        raise AssertionError(f"records has no index on subject_id: {statements}")
    return statements


def _create_raw_table(url: str) -> None:
    """In a database migrated as xinyong's ledger is (its tables stay empty): ``raw_records``
    with every index of ``records``."""
    engine = open_database(url)
    _raw_table().create(engine)
    with engine.begin() as conn:
        for statement in _record_indexes(conn):
            conn.exec_driver_sql(statement)
    engine.dispose()


def _python_rows(parquet: Path, *, dates_as_text: bool) -> Iterator[tuple[Any, ...]]:
    """The Parquet file's rows as tuples in ``RAW_COLUMNS`` order, read batch by batch."""
    position = 0
    batches = pq.ParquetFile(parquet).iter_batches(
        batch_size=RAW_BATCH_ROWS, columns=list(RECORD_COLUMNS)
    )
    for batch in batches:
        columns: list[list[Any]] = []
        for name in RECORD_COLUMNS:
            column = batch.column(name)
            if dates_as_text and name == "occurred_at":  # what SQLite stores: ISO text
                column = pc.cast(column, pa.string())
            columns.append(column.to_pylist())
        count = batch.num_rows
        yield from zip(
            range(position, position + count),
            *columns,
            itertools.repeat(RECORDED_AT, count),
            strict=True,
        )
        position += count


def run_raw_sqlite(url: str, parquet: Path, rows: int) -> Sample:
    """executemany of the Parquet rows into a fresh table, in one transaction.

    The connection comes from xinyong's own engine, so it has exactly xinyong's pragmas.
    """
    _create_raw_table(url)
    engine = open_database(url, migrate=False)
    pooled = engine.raw_connection()
    conn = pooled.driver_connection
    assert isinstance(conn, sqlite3.Connection)
    marks = ", ".join("?" for _ in RAW_COLUMNS)
    sql = f"INSERT INTO {RAW_TABLE} ({', '.join(RAW_COLUMNS)}) VALUES ({marks})"

    def load() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, _python_rows(parquet, dates_as_text=True))
        conn.execute("COMMIT")

    timing, _ = cpu_timed(load)
    stored = conn.execute(f"SELECT count(*) FROM {RAW_TABLE}").fetchone()[0]
    pooled.close()
    engine.dispose()
    if stored != rows:
        raise AssertionError(f"raw table holds {stored} rows; expected {rows}")
    return Sample.of(timing)


def run_raw_postgresql(url: str, parquet: Path, rows: int) -> Sample:
    """COPY ... FROM STDIN in binary (write_row) of the Parquet rows into a fresh table, one
    transaction: the driver's fastest path (10-15 % faster than the text format here), as
    xinyong's appends use since 2026-12-05.

    The connection comes from xinyong's own engine (same driver, same connection settings).
    """
    _create_raw_table(url)
    engine = open_database(url, migrate=False)
    pooled = engine.raw_connection()
    conn = pooled.driver_connection
    assert isinstance(conn, psycopg.Connection)

    def load() -> None:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                f"COPY {RAW_TABLE} ({', '.join(RAW_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(list(RAW_BINARY_TYPES))
            for row in _python_rows(parquet, dates_as_text=False):
                copy.write_row(row)
        conn.commit()

    timing, _ = cpu_timed(load)
    stored = conn.execute(f"SELECT count(*) FROM {RAW_TABLE}").fetchone()
    conn.rollback()
    pooled.close()
    engine.dispose()
    if stored is None or stored[0] != rows:
        raise AssertionError(f"raw table holds {stored} rows; expected {rows}")
    return Sample.of(timing)


def _in_child(fn: Callable[[str, Path, int], Sample], url: str, parquet: Path, rows: int) -> Sample:
    """Run one load in a fresh interpreter: clean heap, its own peak RSS."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(fn, url, parquet, rows).result()


class Databases:
    """Fresh, throw-away databases of one engine: a SQLite file or a PostgreSQL database."""

    def __init__(self, engine: str, workdir: Path, pg_url: str) -> None:
        self.engine = engine
        self.workdir = workdir
        self.pg_url = make_url(pg_url)
        self.admin = (
            sa.create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
            if engine == "postgresql"
            else None
        )

    def create(self) -> str:
        """A URL of a new, empty database."""
        name = f"xinyong_bench_{uuid.uuid4().hex[:12]}"
        if self.admin is None:
            return f"sqlite:///{self.workdir / (name + '.db')}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.pg_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        """Remove a database made by :meth:`create`."""
        name = make_url(url).database
        assert name
        if self.admin is None:
            stem = name.removesuffix(".db")  # the ledger and its inquiry log file beside it
            for base in (name, f"{stem}-inquiries.db"):
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(base + suffix).unlink(missing_ok=True)
            return
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def server_version(self) -> str:
        """The database software's version."""
        if self.admin is None:
            return f"SQLite {sqlite3.sqlite_version}"
        with self.admin.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one())

    def close(self) -> None:
        """Release the admin connection pool."""
        if self.admin is not None:
            self.admin.dispose()


@dataclass(slots=True)
class EngineResult:
    """Medians and raw samples of one engine."""

    engine: str
    version: str
    rows: int
    cores: int
    xinyong_seconds: list[float] = field(default_factory=list)
    raw_seconds: list[float] = field(default_factory=list)
    xinyong_process_cpu_s: list[float] = field(default_factory=list)
    raw_process_cpu_s: list[float] = field(default_factory=list)
    xinyong_machine_cpu_s: list[float] = field(default_factory=list)
    raw_machine_cpu_s: list[float] = field(default_factory=list)
    xinyong_peak_rss_mib: float = 0.0
    raw_peak_rss_mib: float = 0.0
    xinyong_rows_per_second: float = 0.0
    raw_rows_per_second: float = 0.0
    ratio: float = 0.0
    cpu_bound_ratio: float = 0.0
    """The median of xinyong's machine CPU-seconds over the cores, divided by the median raw
    time: the least ratio that this work could reach on this machine, every core busy with it
    from start to end (its own process, the database server and anything else it started)."""
    goal_met: bool = False

    def add(self, label: str, sample: Sample) -> None:
        """Keep one load's sample under ``label`` (xinyong or raw)."""
        getattr(self, f"{label}_seconds").append(sample.seconds)
        getattr(self, f"{label}_process_cpu_s").append(round(sample.process_cpu_s, 2))
        getattr(self, f"{label}_machine_cpu_s").append(round(sample.machine_cpu_s, 2))

    def summarise(self) -> None:
        """Fill in the medians, the ratios and the goal check from the samples."""
        xinyong = median(self.xinyong_seconds)
        raw = median(self.raw_seconds)
        self.xinyong_rows_per_second = self.rows / xinyong
        self.raw_rows_per_second = self.rows / raw
        self.ratio = xinyong / raw
        self.cpu_bound_ratio = median(self.xinyong_machine_cpu_s) / self.cores / raw
        self.goal_met = self.ratio <= GOAL_RATIO


RAW_LOADERS: dict[str, Callable[[str, Path, int], Sample]] = {
    "sqlite": run_raw_sqlite,
    "postgresql": run_raw_postgresql,
}


def bench_engine(engine: str, parquet: Path, args: argparse.Namespace) -> EngineResult:
    """Alternate xinyong and raw loads ``--repeat`` times in fresh databases of ``engine``."""
    databases = Databases(engine, args.workdir, args.pg_url)
    result = EngineResult(engine, databases.server_version(), args.rows, os.cpu_count() or 1)
    xinyong_rss: list[int] = []
    raw_rss: list[int] = []
    try:
        for attempt in range(1, args.repeat + 1):
            for label, fn, rss in (
                ("xinyong", run_xinyong, xinyong_rss),
                ("raw", RAW_LOADERS[engine], raw_rss),
            ):
                url = databases.create()
                try:
                    sample = _in_child(fn, url, parquet, args.rows)
                finally:
                    databases.drop(url)
                result.add(label, sample)
                rss.append(sample.peak_rss_kib)
                _say(
                    f"{engine} {label} run {attempt}/{args.repeat}: {sample.seconds:.2f} s, "
                    f"{args.rows / sample.seconds:,.0f} rows/s, CPU-s: this process "
                    f"{sample.process_cpu_s:.2f}, the machine {sample.machine_cpu_s:.2f}, "
                    f"peak RSS {sample.peak_rss_kib / 1024:.0f} MiB"
                )
    finally:
        databases.close()
    result.xinyong_peak_rss_mib = max(xinyong_rss) / 1024
    result.raw_peak_rss_mib = max(raw_rss) / 1024
    result.summarise()
    return result


# ------------------------------------------------------------------------------ reporting


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(results: list[EngineResult], repeat: int) -> str:
    """The results as a Markdown table."""
    lines = [
        "| engine | rows | xinyong rows/s | raw rows/s | ratio time(xinyong)/time(raw) "
        "| CPU-bound ratio | peak RSS xinyong / raw | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        goal = "met" if r.goal_met else "NOT met"
        lines.append(
            f"| {r.engine} ({r.version}) | {r.rows:,} | {r.xinyong_rows_per_second:,.0f} "
            f"| {r.raw_rows_per_second:,.0f} | {r.ratio:.2f} | {r.cpu_bound_ratio:.2f} "
            f"| {r.xinyong_peak_rss_mib:,.0f} / {r.raw_peak_rss_mib:,.0f} MiB | {goal} |"
        )
    lines.append("")
    lines.append(
        f"medians of {repeat} runs; CPU-bound ratio: xinyong's machine CPU-seconds over the "
        "cores, divided by the raw time (no schedule of the same work can do better here)"
    )
    for r in results:
        lines.append(f"  {r.engine}, seconds, process CPU-s, machine CPU-s:")
        for label in ("xinyong", "raw"):
            runs = zip(
                getattr(r, f"{label}_seconds"),
                getattr(r, f"{label}_process_cpu_s"),
                getattr(r, f"{label}_machine_cpu_s"),
                strict=True,
            )
            text = "; ".join(f"{s:.2f} s, {p:.2f}, {m:.2f}" for s, p, m in runs)
            lines.append(f"    {label}: {text}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Benchmark xinyong ingest against the raw bulk load of the same rows."
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="records to ingest")
    parser.add_argument("--repeat", type=int, default=3, help="runs per load; medians reported")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL server (a fresh database xinyong_bench_* is created per run)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="for the Parquet and SQLite files (temp dir)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        parser.error(f"--engines: choose from {', '.join(ENGINES)}")
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")
    args.engines = engines
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results."""
    cli = sys.argv[1:] if argv is None else argv
    args = parse_args(cli)
    own_workdir = args.workdir is None
    if own_workdir:
        args.workdir = Path(tempfile.mkdtemp(prefix="xinyong-bench-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    parquet = args.workdir / f"records-{args.rows}.parquet"
    try:
        seconds, _ = timed(lambda: generate_parquet(parquet, args.rows, load_catalog()))
        _say(
            f"generated {args.rows:,} records in {seconds:.1f} s: "
            f"{parquet} ({parquet.stat().st_size / 2**20:.1f} MiB)"
        )
        results = [bench_engine(engine, parquet, args) for engine in args.engines]
    finally:
        parquet.unlink(missing_ok=True)
        if own_workdir:
            shutil.rmtree(args.workdir, ignore_errors=True)
    if args.json:
        payload = {
            "machine": machine("pyarrow", "psycopg"),
            "command": " ".join(["python", "bench/ingest.py", *cli]),
            "rows": args.rows,
            "repeat": args.repeat,
            "goal": {"ratio": GOAL_RATIO},
            "results": [asdict(r) for r in results],
        }
        print(json.dumps(payload, indent=2))
    else:
        info = machine("pyarrow", "psycopg")
        print(f"{info['date']}, {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
        print(table(results, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
