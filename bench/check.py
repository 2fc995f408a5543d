"""Check benchmark: latency of ``GET /v1/checks`` over a ledger of 1,000,000 subjects.

Phases (all in one run, so every ratio compares numbers taken under the same machine noise):

1. **build** (cached in ``--workdir``): ``xinyong.synth`` writes N people (and M organizations)
   with ``--years`` of conduct records to Parquet; ``load_subjects`` and ``ingest_records``
   append them to a SQLite ledger; the ``judgment-defaulters`` pilot (nine sanction measures) is
   added, a relying party ``bench-airline`` is registered for ``no-premium-travel``, and a
   relying key and a source key (``bench-src``) are created. A ledger is reused only when its
   build finished (``*.json`` beside it).
2. **in-process**: ``check_measure`` for ``--checks`` subjects drawn at random (seeded) from all
   registered subjects, each in its own connection and transaction as the route runs it
   (connect, BEGIN, decide, log the inquiry, COMMIT), timed with ``perf_counter_ns``.
   **records** (PostgreSQL, not run by default): the records path of ``POST /v1/records``
   in process, batch by batch, against a raw ``COPY`` of the same batches
   (:func:`records_path`).
3. **HTTP throughput**: two uvicorn servers in child processes with the same settings (one
   worker, ``loop="asyncio"``, ``http="h11"``, no access log, 127.0.0.1): the xinyong app
   (as ``xinyong serve`` runs it, background worker included, with the per-party rate limit
   raised out of the way) and a bare Starlette app whose only endpoint ``GET /v1/checks``
   returns a fixed JSON object of the same shape. One load process drives each in turn with
   the same closed loop: ``--connections`` keep-alive connections, each sending the next
   request as soon as the previous answer is in, for ``--duration`` seconds after a warm-up;
   the requests are byte for byte the same (path, random subject, Bearer key). xinyong and bare
   alternate ``--repeat`` times; throughput is the median, the ratio is median/median. The
   xinyong server is started as ``xinyong serve`` starts it (uvicorn's app factory, settings from
   a file), so ``--mixed-workers`` can run the mixed phase with several worker processes.
4. **mixed load**: against the xinyong server, an open-loop client sends ``--rate`` checks per
   second on a fixed schedule (latency measured from the scheduled send time, so a stalled
   server cannot hide its queue), first alone and then while another process POSTs
   ``--ingest-rate`` records per second to ``/v1/records`` with the source key (batches of
   ``--ingest-batch`` records with new record ids, about subjects already registered, also on a
   fixed schedule). On PostgreSQL each round also runs ``--mixed-floor`` (the least a check
   does) alone, while the same records are posted to the service, and while they are posted
   to the records floor (:func:`floor_records_app`, the least an append does) instead: the
   floors together bound from below what any server could reach on this machine.

The load generator is a minimal HTTP/1.1 client on asyncio streams (keep-alive, requests
written pre-rendered, ``Content-Length`` bodies): ``wrk`` is not installed here, and an httpx
client saturates a core at a rate below what the bare endpoint serves, which would measure the
client rather than the server.

Run as ``python bench/check.py`` (``--help`` for options; ``--json`` for machine output).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import hashlib
import io
import json
import os
import pstats
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pyarrow.parquet as pq

from benchkit import (
    CpuTimed,
    cpu_timed,
    load_average,
    machine,
    machine_cpu_seconds,
    median,
    wait_quiet,
)

GOAL_RATIO = 0.5
GOAL_MIXED_P99_MS = 10.0
MEASURE = "no-premium-travel"
RELYING_PARTY = "bench-airline"
SOURCE = "bench-src"
SCHEME = "judgment-defaulters"
HOST = "127.0.0.1"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DATABASE = "xinyong_bench_check"
"""The prefix of the benchmark's databases on the local server: one per synthetic ledger."""
"""``--backend postgres`` builds (and reuses) its ledger in this database on the local server."""
UVICORN = {"access_log": False, "log_level": "warning"}
"""Settings shared by both servers, besides the HTTP parser and loop (``--http``)."""
HTTP_ENV = "XINYONG_BENCH_HTTP"
"""How ``--http`` reaches the server processes."""
WARMUP_SECONDS = 2.0
REQUEST_TIMEOUT = 30.0
MAX_OPEN_CONNECTIONS = 128
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)(?:: .*)?)$", re.MULTILINE)
BARE_BODY = {
    "decision_id": "00000000-0000-4000-8000-000000000000",
    "subject": "000000000000000000",
    "measure": MEASURE,
    "applies": False,
    "scheme": SCHEME,
    "version": "0" * 64,
    "as_of": "2026-01-01",
    "made_at": "2026-01-01T00:00:00.000000Z",
}


# ------------------------------------------------------------------------------ helpers


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def _summary(latencies_ns: list[int] | np.ndarray) -> dict[str, float]:
    values = np.asarray(latencies_ns, dtype=np.float64)
    if values.size == 0:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    return {
        "n": int(values.size),
        "p50_ms": _ms(float(np.percentile(values, 50))),
        "p90_ms": _ms(float(np.percentile(values, 90))),
        "p99_ms": _ms(float(np.percentile(values, 99))),
        "max_ms": _ms(float(values.max())),
    }


def _p99_all(latencies_ns: list[int], scheduled: int) -> float | None:
    """p99 in ms over every scheduled request, an unanswered or failed one counting as
    infinitely slow (None when more than 1 % failed)."""
    if scheduled == 0:
        return None
    index = max(0, -(-99 * scheduled // 100) - 1)  # nearest rank
    if index >= len(latencies_ns):
        return None
    return _ms(sorted(latencies_ns)[index])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of a process and of each of its children (the submission worker)."""
    out = {"server": _cpu_seconds(pid), "server disk MB read": _disk_read_mb(pid)}
    out.update({f"waiting {k}": v for k, v in _run_queue_wait(pid).items()})
    children = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        for child in children.read_text().split():
            with contextlib.suppress(OSError):
                out[f"child {child}"] = _cpu_seconds(int(child))
                out[f"child {child} disk MB read"] = _disk_read_mb(int(child))
    return out


def _disk_read_mb(pid: int) -> float:
    """Megabytes a process has made the disk read (page cache misses)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1]) / 1e6
    return 0.0


def _run_queue_wait(pid: int) -> dict[str, float]:
    """Seconds each thread of a process has spent runnable but waiting for a core."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            name = (task / "comm").read_text().strip()
            waited = int((task / "schedstat").read_text().split()[1]) / 1e9
            out[name] = out.get(name, 0.0) + waited
    return out


def _cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(v - before.get(k, 0.0), 2) for k, v in after.items()}


def _family_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and of all its descendants (uvicorn's worker processes)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            total += _cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total


def _cpu_mark(pid: int) -> tuple[float, float]:
    """CPU-seconds so far of a server's process tree and of the whole machine."""
    return _family_cpu_seconds(pid), machine_cpu_seconds()


def _cpu_per_check(mark: tuple[float, float], pid: int, run: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per request of an open-loop run since ``mark``: the server's processes
    (its web workers, which answer checks) and the whole machine's (PostgreSQL's backends and
    the load generator too). Every request sent counts, the warm-up's included, since the CPU is
    taken over the whole run; the same rate on the same client makes two servers' figures
    comparable: what a check costs, not how long it waits."""
    family, machine = _cpu_mark(pid)
    sent = run["scheduled"] + run["warm_up_requests"]
    return {
        "server_ms": round((family - mark[0]) / sent * 1000, 3),
        "machine_ms": round((machine - mark[1]) / sent * 1000, 3),
    }


def wait_idle(pid: int, limit: float = 300.0) -> float:
    """Wait until a server and its worker processes stop using CPU (a backlog worked off, the
    proofs' subtrees warmed at start); return seconds."""
    started = time.monotonic()
    quiet = 0
    last = _family_cpu_seconds(pid)
    while time.monotonic() - started < limit and quiet < 2:
        time.sleep(0.5)
        now = _family_cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.05 else 0
        last = now
    return round(time.monotonic() - started, 1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ build


@dataclass(frozen=True)
class Ledger:
    """A built ledger and what the benchmark needs to use it."""

    db_url: str
    records_path: Path
    subjects_path: Path
    relying_token: str
    source_token: str
    meta: dict[str, Any]


def build_ledger(args: argparse.Namespace) -> Ledger:
    """Build the ledger (or reuse a finished build in ``--workdir``)."""
    from xinyong.application.keys import Role, create_key
    from xinyong.domain.catalog import load_catalog
    from xinyong.ingest.files import ingest_records
    from xinyong.ingest.subjects import load_subjects
    from xinyong.ledger.append import utc_now_text
    from xinyong.ledger.database import inquiry_log_path, open_database
    from xinyong.ledger.schema import relying_parties
    from xinyong.pilots import bundled_pilots
    from xinyong.schemes.load import load_scheme
    from xinyong.scoring.store import add_scheme
    from xinyong.synth import SynthConfig, generate, subjects_path
    from xinyong.synth.dataset import write

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"p{args.people}-o{args.orgs}-y{args.years}-s{args.seed}"
    records_path = workdir / f"synth-{stem}.parquet"
    db_path = workdir / f"ledger-{stem}.db"
    url = f"sqlite:///{db_path}"
    meta_path = workdir / f"ledger-{stem}.json"
    if args.backend == "postgres":
        meta_path = workdir / f"ledger-{stem}-postgres.json"
        url = f"{PG_SERVER}/{_pg_database(stem)}"
    if meta_path.exists() and (args.backend == "postgres" or db_path.exists()):
        meta = json.loads(meta_path.read_text())
        _log(f"reusing {url if args.backend == 'postgres' else db_path} (built {meta['built_at']})")
        return Ledger(
            url,
            records_path,
            subjects_path(records_path),
            meta["relying_token"],
            meta["source_token"],
            meta,
        )
    log_path = inquiry_log_path(str(db_path))
    assert log_path is not None
    for file in (db_path, log_path):
        for stale in (file, Path(f"{file}-wal"), Path(f"{file}-shm")):
            stale.unlink(missing_ok=True)
    meta_path.unlink(missing_ok=True)
    if args.backend == "postgres":
        _recreate_pg_database(_pg_database(stem))
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if not (records_path.exists() and subjects_path(records_path).exists()):
        _log(f"synth: {args.people:,} people, {args.orgs:,} organizations, {args.years} y")
        config = SynthConfig(
            people=args.people, organizations=args.orgs, years=args.years, seed=args.seed
        )
        write(generate(config), records_path)
    timings["synth_s"] = time.perf_counter() - started
    catalog = load_catalog()
    engine = open_database(url)
    try:
        _log("load_subjects")
        mark = time.perf_counter()
        subjects_report = load_subjects(engine, subjects_path(records_path))
        timings["subjects_s"] = time.perf_counter() - mark
        _log(f"  {subjects_report.added:,} subjects in {timings['subjects_s']:.1f} s")
        mark = time.perf_counter()
        records_report = ingest_records(engine, records_path, catalog)
        timings["records_s"] = time.perf_counter() - mark
        _log(f"  {records_report.accepted:,} records in {timings['records_s']:.1f} s")
        with engine.begin() as conn:
            add_scheme(conn, load_scheme(bundled_pilots()[SCHEME]))
            relying = create_key(conn, Role.RELYING, RELYING_PARTY, label="bench").token
            source = create_key(conn, Role.SOURCE, SOURCE, label="bench").token
            conn.execute(
                relying_parties.insert().values(
                    name=RELYING_PARTY,
                    measures=orjson.dumps([MEASURE]).decode(),
                    purpose="benchmark: ticket sales",
                    webhook_url=None,
                    created_at=utc_now_text(),
                )
            )
        with engine.connect() as conn:
            if args.backend == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:  # every table, committed (the ledger's own were analysed after their loads)
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        engine.dispose()
    meta = {
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "people": args.people,
        "orgs": args.orgs,
        "years": args.years,
        "seed": args.seed,
        "subjects": subjects_report.added,
        "records": records_report.accepted,
        "records_rejected": records_report.rejected,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "build_s": round(time.perf_counter() - started, 1),
        "backend": args.backend,
        "db_bytes": db_path.stat().st_size if args.backend == "sqlite" else None,
        "relying_token": relying,
        "source_token": source,
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return Ledger(url, records_path, subjects_path(records_path), relying, source, meta)


def refresh_today(ledger: Ledger) -> dict[str, Any]:
    """The batch refresh a deployment runs every day (``xinyong standings refresh``), unless
    today's run exists and holds at the ledger's size: checks are answered from its stored
    standings. (A mixed phase appends records; without a new refresh the next invocation's
    checks on those subjects would compute their standings, and runs would not compare.)"""
    from sqlalchemy import func, select

    from xinyong.decisions.standing import SchemeRegistry
    from xinyong.domain.catalog import load_catalog
    from xinyong.due_process.refresh import refresh_all
    from xinyong.ledger.append import read_size
    from xinyong.ledger.database import WRITE_LOCK, open_database
    from xinyong.ledger.schema import standing_runs

    engine = open_database(ledger.db_url)
    today = date.today()
    try:
        if engine.dialect.name == "postgresql":
            # What autovacuum does on a deployment's server; this machine's runs with it off,
            # and earlier runs grew the inquiry log (and records) since the build's ANALYZE.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        with engine.connect() as conn:
            newest = conn.execute(
                select(func.max(standing_runs.c.known_at)).where(
                    standing_runs.c.scheme_id == SCHEME, standing_runs.c.as_of == today
                )
            ).scalar()
            size = read_size(conn)
        if newest is not None and newest >= size:
            _log(f"standings of {today} already refreshed at the ledger's size {size:,}")
            return {"reused": True}
        _log(f"standings refresh as of {today} (xinyong standings refresh)")
        started = time.perf_counter()
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            changed = refresh_all(conn, SchemeRegistry(), today, load_catalog())
        seconds = round(time.perf_counter() - started, 1)
        _log(f"  {seconds} s, {changed} subjects changed lists")
        return {"reused": False, "seconds": seconds, "changed": changed}
    finally:
        engine.dispose()


def _pg_database(stem: str) -> str:
    return f"{PG_DATABASE}_{stem.replace('-', '_')}"


def _recreate_pg_database(name: str) -> None:
    """Drop and create one of the benchmark's PostgreSQL databases (never the tests' ``test``)."""
    import psycopg

    admin = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def subject_ids(path: Path) -> list[str]:
    """Every subject id of the synthetic population (all are registered)."""
    column = pq.read_table(path, columns=["subject_id"]).column("subject_id")
    return [str(s) for s in column.to_pylist()]


# ------------------------------------------------------------------------------ in process


def in_process(ledger: Ledger, ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """A check as the route makes it, for ``--checks`` random subjects, one at a time: decide in
    a read transaction (with the service's caches), then commit it to the inquiry log and wait.

    Twice: from the stored standings of today's refresh (``precomputed``, as the service does),
    and computing every standing from the subject's records (``computed``, the path a check takes
    for a subject whose records changed since the refresh)."""
    from xinyong.application.inquiry_log import InquiryLog
    from xinyong.application.settings import ServiceSettings
    from xinyong.decisions.checks import Registrations, decide_measure
    from xinyong.decisions.precomputed import PrecomputedStandings
    from xinyong.decisions.standing import SchemeRegistry
    from xinyong.domain.catalog import load_catalog
    from xinyong.ledger.database import open_database

    engine = open_database(ledger.db_url)
    seconds = ServiceSettings().cache_seconds
    registry, registrations = SchemeRegistry(seconds), Registrations(seconds)
    inquiry_log = InquiryLog(engine)
    catalog = load_catalog()
    rng = random.Random(args.seed)
    today = date.today()

    async def one(subject: str, precomputed: PrecomputedStandings | None) -> bool:
        with engine.connect() as conn, conn.begin():
            decision, notice = decide_measure(
                conn,
                registry,
                RELYING_PARTY,
                subject,
                MEASURE,
                today,
                catalog,
                registrations,
                precomputed,
            )
        await inquiry_log.record(decision, notice)
        return decision.applies

    async def series(precomputed: PrecomputedStandings | None) -> dict[str, Any]:
        warm_until = time.monotonic() + 30
        for _ in range(min(20, args.checks)):  # warm-up: scheme parse, statement caches
            await one(rng.choice(ids), precomputed)
            if time.monotonic() > warm_until:
                break
        load_before = load_average()
        latencies: list[int] = []
        applies = 0
        deadline = time.monotonic() + args.max_phase_seconds
        for _ in range(args.checks):
            subject = rng.choice(ids)
            start = time.perf_counter_ns()
            applies += await one(subject, precomputed)
            latencies.append(time.perf_counter_ns() - start)
            if time.monotonic() > deadline:
                break
        return {
            **_summary(latencies),
            "mean_ms": _ms(statistics.fmean(latencies)),
            "applies": applies,
            "load_before": load_before,
            "load_after": load_average(),
        }

    async def profile(precomputed: PrecomputedStandings) -> str:
        profiler = cProfile.Profile()
        sample = [rng.choice(ids) for _ in range(args.profile)]
        profiler.enable()
        for subject in sample:
            await one(subject, precomputed)
        profiler.disable()
        return _profile_table(profiler, args.profile)

    try:
        precomputed = PrecomputedStandings(seconds)
        result: dict[str, Any] = asyncio.run(series(precomputed))
        result["computed"] = asyncio.run(series(None))
        if args.profile:
            result["profile"] = asyncio.run(profile(precomputed))
    finally:
        engine.dispose()
    return result


def _profile_table(profiler: cProfile.Profile, calls: int, top: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(f"cProfile of {calls} checks; per-check ms = cumtime / {calls} * 1000\n")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------------------ servers


def bare_app() -> Any:
    """A Starlette app with one endpoint returning a fixed small JSON object."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def checks(request: Request) -> JSONResponse:
        return JSONResponse(BARE_BODY)

    return Starlette(routes=[Route("/v1/checks", checks, methods=["GET"])])


FLOOR_TABLE = "bench_floor_inquiries"
"""The durable floor's log (PostgreSQL): one row per answered request, nothing else."""
FLOOR_LANES = int(os.environ.get("XINYONG_BENCH_FLOOR_LANES", "1"))
"""Batches the durable floor writes at once, each on its own connection (1: one at a time, as
the service's inquiry log)."""
FLOOR_ENV = "XINYONG_BENCH_FLOOR_DB"
"""How the libpq address of the ledger reaches the durable floor's worker processes."""


class _Grouped:
    """One statement for all the requests waiting when a connection is free (group commit, or
    one read for many subjects), at most :data:`FLOOR_LANES` at a time on kept asynchronous
    psycopg connections (autocommit, prepared and planned once): the floors' way to reach
    PostgreSQL, as the service's inquiry log and stored reads do. The statement's parameters are
    ``subjects``, the array of the waiting requests' subjects, and ``run_id``."""

    def __init__(self, conninfo: str, sql: str, run_id: str | None = None) -> None:
        self.conninfo, self.sql, self.run_id = conninfo, sql, run_id
        self.pending: list[tuple[str, asyncio.Future[Any]]] = []
        self.idle: list[Any] = []
        self.taking = False

    async def open(self) -> None:
        """Connect every lane now (at start, as the service opens its pools): a lane that
        connected on first use would make the first batches wait for the connection."""
        import psycopg

        lanes = []
        for _ in range(FLOOR_LANES):
            lane = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, prepare_threshold=0
            )
            await lane.execute("SET plan_cache_mode = force_generic_plan")  # as the service
            lanes.append(lane)
        self.idle = lanes

    async def __call__(self, subject: str) -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self.pending.append((subject, done))
        if not self.taking:
            self.taking = True
            loop.call_soon(self._take)  # the requests already runnable join the batch
        return await done

    def _take(self) -> None:
        self.taking = False
        while self.pending and self.idle:
            batch = self.pending[:1000]
            del self.pending[: len(batch)]
            task = asyncio.get_running_loop().create_task(self._run(self.idle.pop(), batch))
            task.add_done_callback(functools.partial(_settle, batch=batch))

    async def _run(self, lane: Any, batch: list[tuple[str, asyncio.Future[Any]]]) -> Any:
        try:
            subjects = [subject for subject, _ in batch]
            params = {"subjects": subjects, "run_id": self.run_id}
            cursor = await lane.execute(self.sql, params)
            if cursor.description is not None:
                await cursor.fetchall()
        finally:
            self.idle.append(lane)
            self._take()


def _settle(done: asyncio.Task[Any], *, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
    error = done.exception()
    answers = (None if error is not None else done.result()) or [None] * len(batch)
    for (_, future), answer in zip(batch, answers, strict=True):
        if error is None:
            future.set_result(answer)
        else:
            future.set_exception(error)


FLOOR_TREE = "bench_floor_tree"
FLOOR_HEADS = "bench_floor_heads"
FLOOR_LOCK = 0x6266_6C72  # "bflr": the signed floors' tree lock (none of xinyong's keys)


class _Frontier:
    """An RFC 9162 Merkle tree's frontier, hand-written for the signed floors: the roots of its
    perfect subtrees, largest first, so that appending a leaf costs one hash per subtree it
    completes and the root one per subtree."""

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        self.size, self.hashes = size, hashes or []

    @classmethod
    def from_head(cls, head: tuple[int, str] | None) -> _Frontier:
        if head is None:
            return cls()
        return cls(int(head[0]), [bytes.fromhex(h) for h in head[1].split(",") if h])

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:
            node = hashlib.sha256(b"\x01" + self.hashes.pop() + node).digest()
            size >>= 1
        self.hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return hashlib.sha256(b"").digest()
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node

    def text(self) -> str:
        return ",".join(h.hex() for h in self.hashes)


class _TreeLog(_Grouped):
    """The durable floor's group commit with each batch placed in a Merkle tree, as the
    service's inquiry log places its checks: one transaction per batch, in two pipelined round
    trips (the tree's lock and its head; then the rows with their positions and leaf hashes, the
    new head and the commit). Each request gets its position, the tree's size and its root,
    and, given a ``signer``, the new head signed once for the whole batch."""

    def __init__(self, conninfo: str, signer: _Signer | None = None) -> None:
        super().__init__(conninfo, "")
        self.signer = signer

    async def _run(
        self, lane: Any, batch: list[tuple[str, asyncio.Future[Any]]]
    ) -> list[tuple[int, int, bytes, str | None]]:
        try:
            subjects = [subject for subject, _ in batch]
            async with lane.pipeline(), lane.transaction():
                await lane.execute("SELECT pg_advisory_xact_lock(%s)", (FLOOR_LOCK,))
                cursor = await lane.execute(
                    f"SELECT size, frontier FROM {FLOOR_HEADS} ORDER BY size DESC LIMIT 1"
                )
                frontier = _Frontier.from_head(await cursor.fetchone())
                made_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                first = frontier.size
                leaves = []
                for n, subject in enumerate(subjects):
                    entry = orjson.dumps([first + n, subject, made_at])
                    leaf = hashlib.sha256(b"\x00" + entry).digest()
                    frontier.append(leaf)
                    leaves.append(leaf)
                root = frontier.root()
                await lane.execute(
                    f"INSERT INTO {FLOOR_TREE} (position, subject_id, made_at, leaf_hash) "
                    "SELECT %s + n - 1, s, %s, l FROM unnest(%s::text[], %s::bytea[]) "
                    "WITH ORDINALITY AS u(s, l, n)",
                    (first, made_at, subjects, leaves),
                )
                await lane.execute(
                    f"INSERT INTO {FLOOR_HEADS} (size, root, frontier) VALUES (%s, %s, %s)",
                    (frontier.size, root, frontier.text()),
                )
            head = None
            if self.signer is not None:
                head = self.signer.receipt({"root": root.hex(), "size": frontier.size})
            return [(first + n, frontier.size, root, head) for n in range(len(subjects))]
        finally:
            self.idle.append(lane)
            self._take()


class _Signer:
    """The signed floors' receipts: each answer signed with Ed25519 as a signed note (C2SP
    signed-note: the text, a blank line, then the key's name and base64 of its 4-byte id and
    the signature), as the service signs its decision receipts."""

    NAME = b"bench.local/floor"

    def __init__(self) -> None:
        import base64

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(self.NAME + b"\n\x01" + public).digest()[:4]
        self.b64 = base64.b64encode

    def receipt(self, decision: dict[str, Any]) -> str:
        text = b"xinyong-receipt/v1\n" + orjson.dumps(decision, option=orjson.OPT_SORT_KEYS) + b"\n"
        signature = self.key.sign(text)
        line = b"\xe2\x80\x94 " + self.NAME + b" " + self.b64(self.key_id + signature) + b"\n"
        return (text + b"\n" + line).decode()


def _floor(read: bool, signing: Literal["answer", "commit"] | None = None) -> Any:
    """A floor as a raw ASGI app: less than the bare Starlette endpoint does per request (no
    routing, no request or response objects), plus the statements; with ``signing``, the
    inquiry's place in a Merkle tree and a signature: of each answer, or of the tree's new head
    once per commit."""
    from urllib.parse import parse_qsl

    conninfo = os.environ[FLOOR_ENV]
    log = (
        _TreeLog(conninfo, _Signer() if signing == "commit" else None)
        if signing
        else _Grouped(
            conninfo,
            f"INSERT INTO {FLOOR_TABLE} (subject_id, made_at) "
            "SELECT s, now() FROM unnest(%(subjects)s::text[]) AS s",
        )
    )
    signer = _Signer() if signing == "answer" else None
    stored = None
    if read:
        import psycopg

        with psycopg.connect(conninfo) as conn:
            row = conn.execute(
                "SELECT run_id FROM standing_runs ORDER BY computed_at DESC LIMIT 1"
            ).fetchone()
        stored = _Grouped(
            conninfo,
            # One index search per subject (an IN list on the key's second column would be
            # planned as a scan of the whole run when planned without the values).
            "SELECT s.subject_id, s.measures, s.adverse FROM unnest(%(subjects)s::text[]) AS u(id) "
            "JOIN standings AS s ON s.run_id = %(run_id)s AND s.subject_id = u.id",
            row[0] if row else "",
        )
    body = orjson.dumps(BARE_BODY)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                for grouped in (log, stored):
                    if grouped is not None:
                        await grouped.open()
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        subject = dict(parse_qsl(scope["query_string"].decode("latin-1"))).get("subject", "")
        if stored is not None:
            await stored(subject)
        placed = await log(subject)
        if placed is None:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        position, size, root, head = placed
        decision = {
            **BARE_BODY,
            "subject": subject,
            "checkpoint": {"root": root.hex(), "size": size},
            "position": position,
        }
        receipt = head if signer is None else signer.receipt(decision)
        answer = orjson.dumps({**decision, "receipt": receipt})
        length = b"%d" % len(answer)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", length)],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


def floor_app() -> Any:
    """The durable floor (PostgreSQL): the bare endpoint's answer, given only once a row for
    the request is durable in the ledger's database, written as a check's inquiry is.

    The contract asks that a check be answered only after its inquiry is durable. This endpoint
    does that and nothing else (a raw ASGI app: no routing, no key, no decision, no read), with
    the service's group commit
    (:class:`_Grouped`: one autocommit ``INSERT`` of ``unnest`` arrays for the requests waiting
    when a connection is free). It is hand-written against psycopg and imports nothing of
    xinyong, so no design that logs every check can do less per check on this machine: its
    throughput against the bare endpoint's bounds the ratio any such server can reach.
    """
    return _floor(read=False)


def floor_read_app() -> Any:
    """The check's floor (PostgreSQL): :func:`floor_app` that first reads the subject's stored
    standing by its primary key (one statement for the requests waiting, as the service's stored
    reads), as a check answered from stored standings must, but without the service's probes
    for changes since the run, its key, its rate limit or its decision."""
    return _floor(read=True)


def floor_signed_app() -> Any:
    """The signed floor (PostgreSQL): :func:`floor_app` whose log is a Merkle tree, each batch
    placed under the tree's lock in the transaction that writes it, and whose answer carries an
    Ed25519 signed receipt of the decision and the tree head, as the contract asks of every
    check (docs/verify.md, decision receipts). No read, no key, no decision: what a check must
    do at least even with every standing held in memory."""
    return _floor(read=False, signing="answer")


def floor_tree_app() -> Any:
    """The tree floor (PostgreSQL): :func:`floor_signed_app` with one signature per commit (the
    tree's new head) instead of one per answer, and no inclusion proof in the answer: what a
    check must do at least if receipts were the signed head of the inquiry log plus the
    inquiry's place in it, a design the service does not have (docs/benchmarks.md)."""
    return _floor(read=False, signing="commit")


def floor_read_signed_app() -> Any:
    """:func:`floor_signed_app` that first reads the stored standing, as
    :func:`floor_read_app`: the least a check answered from stored standings does."""
    return _floor(read=True, signing="answer")


FLOOR_RECORDS = "bench_floor_records"
"""The records floor's table (PostgreSQL): the columns and indexes of the ledger's records."""


FLOOR_RECORDS_COPY = (
    f"COPY {FLOOR_RECORDS} (position, source, record_id, subject_id, subject_kind, code, "
    "occurred_at, case_id, attrs, evidence, recorded_at, leaf_hash) FROM STDIN"
)


def floor_record_rows(rows: list[dict[str, Any]], first: int) -> Iterator[tuple[Any, ...]]:
    """The records floor's rows for submitted records, from position ``first``: their fields
    as given, with a leaf hash of each (its fields as JSON, unchecked)."""
    recorded_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for n, row in enumerate(rows):
        values = (
            row.get("source", "bench-floor"),
            row["record_id"],
            row["subject_id"],
            row["subject_kind"],
            row["code"],
            row["occurred_at"],
            row.get("case_id"),
            orjson.dumps(row.get("attrs") or {}).decode(),
            row.get("evidence"),
        )
        leaf = hashlib.sha256(b"\x00" + orjson.dumps(values)).digest()
        yield (first + n, *values, recorded_at, leaf)


def floor_records_app() -> Any:
    """The records floor (PostgreSQL): the least an append of submitted records does, beside
    which the check floors are measured in the mixed phase (``records_floor``).

    Each ``POST`` body (as ``/v1/records`` takes it) is parsed and its rows are copied, with
    their positions and leaf hashes, into a table with the ledger's record columns and indexes,
    in one transaction that is durable before the answer. Nothing else: no validation, no key,
    no comparison with a stored record of the same key (the table's unique index only refuses
    it), no tree head, no refresh of standings, and an empty table's indexes
    (cheaper to add to than the ledger's). Like the service's submissions worker, the process
    takes the idle scheduling class, so that checks go first."""
    import psycopg

    conninfo = os.environ[FLOOR_ENV]
    state: dict[str, Any] = {}
    body_ok = orjson.dumps({"accepted": 0, "rejected": []})

    async def append(rows: list[dict[str, Any]]) -> None:
        conn = state["conn"]
        async with state["lock"], conn.transaction():
            position = state["next"]  # under the lock: a batch waiting for it must not reuse it
            cursor = conn.cursor()
            async with cursor.copy(FLOOR_RECORDS_COPY) as copy:
                for values in floor_record_rows(rows, position):
                    await copy.write_row(values)
            state["next"] = position + len(rows)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                if hasattr(os, "SCHED_IDLE"):
                    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
                conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
                found = await (
                    await conn.execute(f"SELECT coalesce(max(position), 0) FROM {FLOOR_RECORDS}")
                ).fetchone()
                state.update(conn=conn, next=int(found[0]) + 1, lock=asyncio.Lock())
                await send({"type": "lifespan.startup.complete"})
            await state["conn"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        rows = orjson.loads(b"".join(chunks))["records"]
        await append(rows)
        answer = body_ok.replace(b'"accepted":0', b'"accepted":%d' % len(rows))
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


FLOOR_FACTORIES = {
    "floor": "floor_app",
    "floor-read": "floor_read_app",
    "floor-tree": "floor_tree_app",
    "floor-signed": "floor_signed_app",
    "floor-read-signed": "floor_read_signed_app",
}
"""The floors' apps by name, in the order the throughput phase runs them (after xinyong)."""


def _floor_names(text: str) -> list[str]:
    names = [name for name in text.split(",") if name]
    unknown = sorted(set(names) - set(FLOOR_FACTORIES))
    if unknown:
        raise argparse.ArgumentTypeError(f"no such floor: {', '.join(unknown)}")
    return names


def create_floor_table(db_url: str) -> None:
    """Empty logs for the floors, in the ledger's database (PostgreSQL)."""
    import psycopg

    with psycopg.connect(_libpq(db_url), autocommit=True) as conn:
        for table in (FLOOR_TABLE, FLOOR_TREE, FLOOR_HEADS, FLOOR_RECORDS):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {FLOOR_RECORDS} (LIKE records INCLUDING ALL)")
        conn.execute(
            f"CREATE TABLE {FLOOR_TABLE} (id bigserial PRIMARY KEY, "
            "subject_id text NOT NULL, made_at timestamptz NOT NULL)"
        )
        conn.execute(
            f"CREATE TABLE {FLOOR_TREE} (position bigint PRIMARY KEY, subject_id text NOT NULL, "
            "made_at timestamptz NOT NULL, leaf_hash bytea NOT NULL)"
        )
        conn.execute(
            f"CREATE TABLE {FLOOR_HEADS} (size bigint PRIMARY KEY, root bytea NOT NULL, "
            "frontier text NOT NULL)"
        )


def _libpq(db_url: str) -> str:
    return db_url.replace("postgresql+psycopg://", "postgresql://", 1)


def serve(spec: dict[str, Any]) -> None:
    """Child process: serve ``spec['app']`` on ``spec['port']`` until SIGINT/SIGTERM, both apps
    with the parser and loop ``xinyong serve --http`` would run."""
    import uvicorn

    from xinyong.service.http_protocol import uvicorn_options

    parser = os.environ.get(HTTP_ENV, "httptools")
    options: dict[str, Any] = {**UVICORN, **uvicorn_options(parser)}  # type: ignore[arg-type]

    if spec["app"] == "xinyong":
        # As ``xinyong serve`` runs it: uvicorn's app factory, configured by the environment,
        # with the per-party rate limit raised out of the way.
        from xinyong.ledger.database import ENV_VAR
        from xinyong.server import SETTINGS_ENV

        settings = Path(spec["log_dir"]) / "bench-service.toml"
        settings.write_text("rate_per_second = 1e9\nburst = 1000000000\n", encoding="utf-8")
        os.environ[ENV_VAR] = spec["db"]
        os.environ[SETTINGS_ENV] = str(settings)
        if spec.get("diagnose"):
            from xinyong.server.app import app_from_environment

            uvicorn.run(Diagnosed(app_from_environment()), host=HOST, port=spec["port"], **options)
            return
        uvicorn.run(
            "xinyong.server.factory:app_from_environment",
            factory=True,
            host=HOST,
            port=spec["port"],
            workers=spec["workers"],
            **options,
        )
        return
    factory = {"bare": "bare_app", "floor-records": "floor_records_app", **FLOOR_FACTORIES}[
        spec["app"]
    ]
    if spec["app"].startswith("floor"):
        os.environ[FLOOR_ENV] = _libpq(spec["db"])
    if spec["workers"] == 1:
        uvicorn.run(globals()[factory](), host=HOST, port=spec["port"], **options)
    else:  # worker processes import the app by name
        uvicorn.run(
            f"check:{factory}",
            factory=True,
            app_dir=str(Path(__file__).parent),
            host=HOST,
            port=spec["port"],
            workers=spec["workers"],
            **options,
        )


STATS_PATH = "/__bench/stats"


class Diagnosed:
    """The service wrapped to say where a slow check's time went (``--diagnose``): the time
    each check spent inside the app, the garbage collector's pauses, and how late the event loop
    ran a 1 ms timer (a stall: something held the loop or the process was not scheduled).
    ``GET /__bench/stats`` returns them and starts over."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inside: list[int] = []
        self.gc_pauses: list[tuple[int, float]] = []
        self.lags: list[int] = []
        self._gc_started = 0
        self._beat = time.perf_counter_ns()
        self.stalls: dict[str, int] = {}
        self.stall_times: list[tuple[float, float]] = []
        self._monitor: asyncio.Task[None] | None = None
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter_ns()
        else:
            self.gc_pauses.append(
                (info["generation"], _ms(time.perf_counter_ns() - self._gc_started))
            )

    async def _watch_loop(self) -> None:
        loop_thread = threading.get_ident()
        threading.Thread(target=self._watchdog, args=(loop_thread,), daemon=True).start()
        while True:
            started = time.perf_counter_ns()
            await asyncio.sleep(0.001)
            self._beat = time.perf_counter_ns()
            lag = self._beat - started - 1_000_000
            self.lags.append(lag)
            if lag > 5_000_000:
                self.stall_times.append((round(time.time(), 3), _ms(lag)))

    def _watchdog(self, loop_thread: int) -> None:
        """Where the loop thread is when it has not run its timer for 10 ms."""
        import traceback

        seen = 0
        while True:
            time.sleep(0.002)
            if time.perf_counter_ns() - self._beat < 10_000_000 or self._beat == seen:
                continue
            seen = self._beat
            frame = sys._current_frames().get(loop_thread)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-8:]
            where = " < ".join(
                f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
            )
            self.stalls[where] = self.stalls.get(where, 0) + 1

    def stats(self) -> dict[str, Any]:
        lags = np.asarray(self.lags or [0])
        out = {
            "inside": _summary(self.inside),
            "gc": {
                f"gen{g}": {
                    "n": sum(1 for gen, _ in self.gc_pauses if gen == g),
                    "max_ms": max((ms for gen, ms in self.gc_pauses if gen == g), default=0.0),
                }
                for g in (0, 1, 2)
            },
            "loop_lag": {
                "p99_ms": _ms(float(np.percentile(lags, 99))),
                "max_ms": _ms(float(lags.max())),
                "over_5ms": int((lags > 5_000_000).sum()),
            },
        }
        out["stalls"] = self.stalls
        out["stall_times"] = self.stall_times
        self.inside, self.gc_pauses, self.lags, self.stalls = [], [], [], {}
        self.stall_times = []
        return out

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._monitor is None:
            self._monitor = asyncio.get_running_loop().create_task(self._watch_loop())
        if scope["path"] == STATS_PATH:
            body = orjson.dumps(self.stats())
            headers = [(b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        started = time.perf_counter_ns()
        await self.app(scope, receive, send)
        if scope["path"] == "/v1/checks":
            self.inside.append(time.perf_counter_ns() - started)


def _log_diagnosis(result: dict[str, Any]) -> None:
    found = result.get("diagnosis")
    _log(f"    server CPU s: {result['server_cpu_s']}")
    if found:
        gc_ = ", ".join(f"{g} {v['n']}x max {v['max_ms']} ms" for g, v in found["gc"].items())
        _log(
            f"    inside the app: p99 {found['inside']['p99_ms']} ms, "
            f"max {found['inside']['max_ms']} ms; loop lag p99 {found['loop_lag']['p99_ms']} ms, "
            f"max {found['loop_lag']['max_ms']} ms, {found['loop_lag']['over_5ms']} over 5 ms; "
            f"GC {gc_}"
        )


def _diagnosis(server: Server) -> dict[str, Any] | None:
    return server_stats(server.port) if server.diagnose else None


def server_stats(port: int) -> dict[str, Any]:
    """What a ``Diagnosed`` server measured since the last call."""
    with socket.create_connection((HOST, port), 10) as sock:
        sock.sendall(f"GET {STATS_PATH} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
        while len(body) < length:
            body += sock.recv(65536)
    return dict(orjson.loads(body))


class Server:
    """A uvicorn child process."""

    def __init__(
        self, app: str, db_url: str, log_dir: Path, workers: int = 1, diagnose: bool = False
    ) -> None:
        self.app = app
        self.port = _free_port()
        self.diagnose = diagnose and app == "xinyong" and workers == 1
        spec = json.dumps(
            {
                "app": app,
                "port": self.port,
                "db": db_url,
                "workers": workers,
                "log_dir": str(log_dir),
                "diagnose": self.diagnose,
            }
        )
        self.log_path = log_dir / f"server-{app}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", "serve", "--spec", spec],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{app} server exited with {self.proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 1):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{app} server did not start in 120 s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def exceptions(self) -> dict[str, int]:
        """Exceptions the server logged (the last line of each traceback), by kind."""
        counts: dict[str, int] = {}
        text = self.log_path.read_text(errors="replace")
        for chunk in text.split("Exception in ASGI application")[1:]:
            found = _EXCEPTION_LINE.findall(chunk)
            kind = found[-1].split(" (Background", 1)[0][:110] if found else "(unparsed)"
            counts[kind] = counts.get(kind, 0) + 1
        return counts


# ------------------------------------------------------------------------------ load client


class Connection:
    """One keep-alive HTTP/1.1 connection (responses must carry Content-Length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(self, data: bytes) -> tuple[int, bytes, bool]:
        """Send one request; return the status, the body and whether the server closes."""
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if length < 0:
            raise RuntimeError("response without Content-Length")
        body = await self.reader.readexactly(length) if length else b""
        # After an unhandled exception (a 500 from Starlette's error middleware) uvicorn
        # closes the connection without saying so: do not send on it again.
        return status, body, close or status >= 500

    def close(self) -> None:
        self.writer.close()


def check_request(subject: str, token: str) -> bytes:
    return (
        f"GET /v1/checks?subject={subject}&measure={MEASURE} HTTP/1.1\r\n"
        f"Host: {HOST}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


def records_request(records: list[dict[str, Any]], token: str) -> bytes:
    body = orjson.dumps({"records": records})
    return (
        f"POST /v1/records HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _wait_for_go() -> float:
    """Tell the parent we are ready; return the wall-clock start time it sends back."""
    print("ready", flush=True)
    line = sys.stdin.readline()
    return float(line)


def prepare(spec: dict[str, Any]) -> list[bytes]:
    """The requests a load process will send, rendered before the start (so that no load
    process is still busy preparing while another is measured)."""
    seconds = spec["duration"] + spec.get("warmup", 0.0)  # open loop: warm-up requests first
    if spec["mode"] == "open" and spec["kind"] == "records":
        return _record_batches(spec, round(spec["rate"] * seconds))
    total = 100_000 if spec["mode"] == "closed" else round(spec["rate"] * seconds)
    ids = subject_ids(Path(spec["subjects"]))
    rng = random.Random(spec["seed"])
    return [check_request(rng.choice(ids), spec["token"]) for _ in range(total)]


async def closed_loop(
    spec: dict[str, Any], requests: list[bytes], start_at: float
) -> dict[str, Any]:
    """``connections`` workers, each sending its next request when its answer is in."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    begin = loop.time()
    measure_from = begin + spec["warmup"]
    stop_at = measure_from + spec["duration"]
    statuses: dict[int, int] = {}
    every: dict[int, int] = {}
    latencies: list[int] = []
    errors = 0

    async def worker(index: int) -> None:
        nonlocal errors
        conn = await Connection.open(spec["port"])
        n = index
        try:
            while loop.time() < stop_at:
                data = requests[n % len(requests)]
                n += spec["connections"]
                sent = time.perf_counter_ns()
                # No retry on timeout: a resent request would only add to the server's backlog.
                patience = max(1.0, stop_at + REQUEST_TIMEOUT - loop.time())
                try:
                    status, _, close = await asyncio.wait_for(conn.request(data), patience)
                except TimeoutError:
                    errors += 1
                    break
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    conn.close()
                    conn = await Connection.open(spec["port"])
                    continue
                done = time.perf_counter_ns()
                every[status] = every.get(status, 0) + 1
                if loop.time() >= measure_from and loop.time() < stop_at:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(done - sent)
                if close:
                    conn.close()
                    conn = await Connection.open(spec["port"])
        finally:
            conn.close()

    await asyncio.gather(*(worker(i) for i in range(spec["connections"])))
    seconds = spec["duration"]
    return {
        "requests_per_s": round(statuses.get(200, 0) / seconds, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "statuses_incl_warmup_and_tail": {str(k): v for k, v in sorted(every.items())},
        "errors": errors,
        "latency": _summary(latencies),
    }


async def open_loop(spec: dict[str, Any], requests: list[bytes], start_at: float) -> dict[str, Any]:
    """Requests on a fixed schedule (``rate`` per second), on a pool of connections.

    Latency counts from the scheduled send time: when every connection is busy the request
    waits for one (or a new one), and that wait is part of what the caller would see. The
    requests of the first ``warmup`` seconds are sent on the same schedule but not counted (a
    server's first requests run code paths and fill caches for the first time).
    """
    rate = spec["rate"]
    warm = round(rate * spec.get("warmup", 0.0))
    total = len(requests) - warm
    loop = asyncio.get_running_loop()
    idle: list[Connection] = [await Connection.open(spec["port"]) for _ in range(spec["pool"])]
    opened = len(idle)
    freed = asyncio.Condition()
    latencies: list[int] = []
    service: list[int] = []
    statuses: dict[int, int] = {}
    accepted = rejected = 0
    errors = 0
    late_by = time.time() - start_at
    await asyncio.sleep(max(0.0, start_at - time.time()))
    begin_ns = time.perf_counter_ns()
    begin = loop.time()
    begin_wall = time.time()

    async def send(index: int, data: bytes) -> None:
        nonlocal opened, accepted, rejected, errors
        scheduled = begin_ns + round(index / rate * 1e9)
        async with freed:
            while not idle and opened >= spec["max_connections"]:
                await freed.wait()
            conn = idle.pop() if idle else None
            if conn is None:
                opened += 1
        if conn is None:
            conn = await Connection.open(spec["port"])
        sent = time.perf_counter_ns()
        try:
            try:
                status, body, close = await asyncio.wait_for(conn.request(data), REQUEST_TIMEOUT)
            except (OSError, asyncio.IncompleteReadError):  # a stale keep-alive: once more
                conn.close()
                conn = await Connection.open(spec["port"])
                status, body, close = await asyncio.wait_for(conn.request(data), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            errors += 1
            conn.close()
            conn = await Connection.open(spec["port"])
        else:
            if close:
                conn.close()
                conn = await Connection.open(spec["port"])
            done = time.perf_counter_ns()
            if index < warm:
                async with freed:
                    idle.append(conn)
                    freed.notify()
                return
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(done - scheduled)
                service.append(done - sent)
                if spec["kind"] == "records":
                    report = orjson.loads(body)
                    accepted += report["accepted"]
                    rejected += len(report["rejected"])
        async with freed:
            idle.append(conn)
            freed.notify()

    tasks = []
    for index, data in enumerate(requests):
        delay = begin + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(index, data)))
    measured_from = begin + warm / rate
    sent_seconds = loop.time() - measured_from
    await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT + 5)
    seconds = loop.time() - measured_from
    for conn in idle:
        conn.close()
    result = {
        "scheduled": total,
        "warm_up_requests": warm,
        "scheduled_per_s": rate,
        "send_seconds": round(sent_seconds, 2),
        "seconds": round(seconds, 2),
        "completed_per_s": round(statuses.get(200, 0) / seconds, 1),
        "not_ok": total - statuses.get(200, 0),
        "p99_all_ms": _p99_all(latencies, total),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
        "connections_opened": opened,
        "latency": _summary(latencies),
        "service_latency": _summary(service),
        "begin_wall": begin_wall,
        "ready_late_by_s": round(late_by, 3),
    }
    if spec["kind"] == "records":
        result["records_accepted"] = accepted
        result["records_rejected"] = rejected
        result["records_per_s"] = round(accepted / seconds, 1)
    return result


def _offered_rows(row: dict[str, Any], case: str) -> list[dict[str, Any]]:
    """What one row picked from the synthetic file becomes in the offered load: itself, under a
    new interaction id ``case`` if it is a peer record. A rating comes with the two
    interaction records it needs (a rating picked as it is rates an interaction the ledger
    already holds a rating of, and is refused as a second one)."""
    from xinyong.domain.peer_records import INTERACTION, PEER_CODES, RATING

    attrs = orjson.loads(row["attrs"]) if row["attrs"] else {}
    offered = {
        "subject_id": row["subject_id"],
        "subject_kind": row["subject_kind"],
        "code": row["code"],
        "occurred_at": row["occurred_at"].isoformat(),
        "case_id": case if row["code"] in PEER_CODES else row["case_id"],
        "attrs": attrs,
    }
    if row["code"] != RATING:
        return [offered]
    rater, rated = attrs["rater"], row["subject_id"]
    met = [
        {**offered, "subject_id": one, "code": INTERACTION, "attrs": {"counterpart": other}}
        for one, other in ((rater, rated), (rated, rater))
    ]
    return [*met, offered]


def _record_batches(spec: dict[str, Any], batches: int) -> list[bytes]:
    """``batches`` POST bodies of ``batch`` records each, all of them acceptable: rows picked at
    random from the synthetic file with new record ids, each rating with its interaction
    (:func:`_offered_rows`). A rating's three rows go in one batch (batches may be appended in
    any order); a batch they would overflow is filled with conduct records instead."""
    from xinyong.domain.peer_records import PEER_CODES

    table = pq.read_table(
        spec["records"],
        columns=["subject_id", "subject_kind", "code", "occurred_at", "case_id", "attrs"],
    )
    size = spec["batch"]
    tag = uuid.uuid4().hex[:10]
    # Other rows in every run: the same raters rating on the same days run after run would
    # meet the daily limit of ratings (20 a day) after a score of runs on one ledger.
    rng = np.random.default_rng([spec["seed"], int(tag, 16)])
    picked = table.take(rng.integers(0, table.num_rows, batches * size)).to_pylist()
    groups = (_offered_rows(row, f"chk-{tag}-case-{n:08d}") for n, row in enumerate(picked))
    fillers = (
        [offered]
        for row in picked
        if row["code"] not in PEER_CODES
        for offered in _offered_rows(row, "")
    )
    out, held = [], None
    for b in range(batches):
        chunk: list[dict[str, Any]] = []
        while len(chunk) < size:
            held = held or next(groups, None)
            if held is not None and len(chunk) + len(held) <= size:
                chunk += held
                held = None
            else:
                chunk += next(fillers)
        for i, record in enumerate(chunk):
            record["record_id"] = f"chk-{tag}-{b * size + i:08d}"
        out.append(records_request(chunk, spec["token"]))
    return out


def drive(spec: dict[str, Any]) -> None:
    """Child process: run one load and print its result as JSON on the last line.

    The collector is off: a collection in the load generator would show as the server's latency.
    """
    gc.disable()
    requests = prepare(spec)
    start_at = _wait_for_go()
    run = closed_loop if spec["mode"] == "closed" else open_loop
    result = asyncio.run(run(spec, requests, start_at))
    print(json.dumps(result), flush=True)


def run_drivers(specs: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Start load processes, wait until all are ready, start them together, collect results."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", "drive", "--spec", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"load process failed to start: {line!r}")
        start_at = time.time() + 0.5
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start_at}\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            stdout, _ = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"load process exited with {proc.returncode}")
            results.append(json.loads(stdout.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def records_path(ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    """In process, the records path of ``POST /v1/records`` as the service's submissions worker
    runs it, batch by batch (``--record-batches`` of ``--ingest-batch`` records, as the mixed
    phase offers them): the body parsed and the rows appended (``append``), then the touched
    subjects refreshed (``refresh``). Against the raw append of the same batches (the records
    floor's ``COPY``, on PostgreSQL), alternating, one batch each in turn. Each batch's wall
    time and CPU: this process's, and the whole machine's (PostgreSQL's backends included)."""
    import psycopg

    from xinyong.application.changes import after_changes
    from xinyong.application.context import Context
    from xinyong.application.settings import ServiceSettings
    from xinyong.domain.catalog import load_catalog
    from xinyong.domain.json_text import parse_json
    from xinyong.ingest.records import ingest_rows
    from xinyong.ledger.database import open_database
    from xinyong.service.submissions import RecordsIn

    spec = {"records": str(ledger.records_path), "batch": args.ingest_batch, "seed": args.seed}
    bodies = [
        request.split(b"\r\n\r\n", 1)[1]
        for request in _record_batches({**spec, "token": ""}, args.record_batches + RECORDS_WARM)
    ]
    catalog = load_catalog()
    ctx = Context.create(open_database(ledger.db_url, migrate=False), catalog, ServiceSettings())
    today = date.today()
    create_floor_table(ledger.db_url)
    raw = psycopg.connect(_libpq(ledger.db_url), autocommit=True)
    marks: dict[str, list[CpuTimed]] = {"append": [], "refresh": [], "raw": []}
    position = 1

    def copy_raw(body: bytes, first: int) -> int:
        floor_rows = orjson.loads(body)["records"]
        with raw.transaction(), raw.cursor().copy(FLOOR_RECORDS_COPY) as copy:
            for values in floor_record_rows(floor_rows, first):
                copy.write_row(values)
        return first + len(floor_rows)

    def append(body: bytes) -> Any:
        rows = RecordsIn.model_validate(parse_json(body)).records
        report = ingest_rows(ctx.engine, rows, catalog, source=SOURCE, today=today)
        if report.accepted != len(rows):
            raise RuntimeError(f"{report.accepted} of {len(rows)} records taken")
        return report

    try:
        prewarmed = _prewarm(raw, RECORDS_PREWARM)
        waited = wait_quiet(args.quiet_limit)
        for n, body in enumerate(bodies):
            # The raw copy first in every other batch: what PostgreSQL does in the background
            # after a commit (the WAL writer, say) lands on either side alike.
            if n % 2:
                floored, position = cpu_timed(functools.partial(copy_raw, body, position))
            appended, report = cpu_timed(functools.partial(append, body))
            refreshed, _ = cpu_timed(functools.partial(after_changes, ctx, report.named, today))
            if not n % 2:
                floored, position = cpu_timed(functools.partial(copy_raw, body, position))
            if n >= RECORDS_WARM:
                marks["append"].append(appended)
                marks["refresh"].append(refreshed)
                marks["raw"].append(floored)
    finally:
        raw.close()
        ctx.engine.dispose()

    def summary(runs: list[CpuTimed]) -> dict[str, float]:
        # CPU as the mean: the machine's is counted in 10 ms ticks, too coarse for one batch.
        return {
            "wall_ms": round(median(run.seconds for run in runs) * 1e3, 2),
            "process_cpu_ms": round(statistics.fmean(run.process_cpu_s for run in runs) * 1e3, 2),
            "machine_cpu_ms": round(statistics.fmean(run.machine_cpu_s for run in runs) * 1e3, 2),
        }

    marks["xinyong"] = [
        CpuTimed(
            a.seconds + r.seconds,
            a.process_cpu_s + r.process_cpu_s,
            a.machine_cpu_s + r.machine_cpu_s,
        )
        for a, r in zip(marks["append"], marks["refresh"], strict=True)
    ]
    out: dict[str, Any] = {
        "batches": len(marks["raw"]),
        "records_per_batch": args.ingest_batch,
        "prewarmed_mb": prewarmed,
        "waited_quiet_s": waited,
        **{part: summary(runs) for part, runs in marks.items()},
    }
    for kind in ("process_cpu", "machine_cpu"):  # None when the raw batches took no tick
        raw_ms = out["raw"][f"{kind}_ms"]
        out[f"{kind}_ratio"] = round(out["xinyong"][f"{kind}_ms"] / raw_ms, 2) if raw_ms else None
    return out


RECORDS_WARM = 5
"""Batches of the records phase run before the measured ones (connections, caches)."""

RECORDS_PREWARM = ("records", "ix_records_subject_position")
"""What the refresh after a batch reads, by subject: read into the kernel's cache before the
records phase, so that its figures are of work, not of which pages the kernel kept (on this
machine it keeps a few GB, and a round of the mixed phase reads others)."""


def _prewarm(conn: Any, relations: tuple[str, ...]) -> float | None:
    """Read ``relations`` into the kernel's page cache with ``pg_prewarm`` (``read``);
    their size in MB, or None where the extension is not available. The extension is created
    in the ledger's database if it is not there, and left there."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except Exception:  # psycopg.Error: not installed, or not allowed
        return None
    total = 0
    for relation in relations:
        conn.execute("SELECT pg_prewarm(%s::regclass, 'read')", (relation,))
        total += conn.execute("SELECT pg_relation_size(%s::regclass)", (relation,)).fetchone()[0]
    return round(total / 2**20, 1)


# ------------------------------------------------------------------------------ HTTP phases


def throughput(
    servers: dict[str, Server], ledger: Ledger, args: argparse.Namespace
) -> dict[str, Any]:
    """Closed-loop throughput of both servers, alternating, ``--repeat`` times."""
    apps = [app for app in ("xinyong", *FLOOR_FACTORIES, "bare") if app in servers]
    runs: dict[str, list[dict[str, Any]]] = {app: [] for app in apps}
    load_before = load_average()
    for repeat in range(args.repeat):
        for app in apps:
            spec = {
                "mode": "closed",
                "port": servers[app].port,
                "subjects": str(ledger.subjects_path),
                "token": ledger.relying_token,
                "seed": args.seed + repeat,
                "connections": args.connections,
                "duration": args.duration,
                "warmup": args.warmup,
            }
            (result,) = run_drivers([spec], args.duration + args.warmup + 120)
            result["load"] = load_average()
            result["server_busy_after_s"] = wait_idle(servers[app].pid)
            runs[app].append(result)
            _log(
                f"  {app:8s} run {repeat + 1}: {result['requests_per_s']:,.0f} req/s, "
                f"p50 {result['latency']['p50_ms']} ms, statuses {result['statuses']}"
            )
    medians = {app: median(r["requests_per_s"] for r in rs) for app, rs in runs.items()}
    ratio = medians["xinyong"] / medians["bare"] if medians["bare"] else float("nan")
    floor: dict[str, Any] = {}
    for app in FLOOR_FACTORIES:  # what logging (reading, signing) leaves of the bare endpoint
        if app in medians:
            key = app.replace("-", "_")
            floor[f"{key}_ratio"] = round(medians[app] / medians["bare"], 3)
            floor[f"{key}_ratio_per_pair"] = [
                round(f["requests_per_s"] / b["requests_per_s"], 3)
                for f, b in zip(runs[app], runs["bare"], strict=True)
            ]
            floor[f"xinyong_to_{key}"] = round(medians["xinyong"] / medians[app], 3)
    return {
        **floor,
        "connections": args.connections,
        "duration_s": args.duration,
        "repeat": args.repeat,
        "runs": runs,
        "median_requests_per_s": medians,
        "ratio": round(ratio, 3),
        "ratio_per_pair": [
            round(x["requests_per_s"] / b["requests_per_s"], 3) if b["requests_per_s"] else None
            for x, b in zip(runs["xinyong"], runs["bare"], strict=True)
        ],
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio >= GOAL_RATIO,
        "load_before": load_before,
        "load_after": load_average(),
    }


def open_checks(server: Server, ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    """Open-loop checks at ``--rate`` alone (against the bare endpoint: the floor that the
    machine and this client set for any server)."""
    wait_idle(server.pid)
    waited = wait_quiet(args.quiet_limit)
    mark = _cpu_mark(server.pid)
    (alone,) = run_drivers([_checks_spec(server, ledger, args)], args.duration + 200)
    alone["cpu_per_check"] = _cpu_per_check(mark, server.pid, alone)
    alone["waited_quiet_s"] = waited
    alone["load"] = load_average()
    _log(
        f"  checks alone: p50 {alone['latency']['p50_ms']} ms, "
        f"p99 {alone['p99_all_ms']} ms, {alone['completed_per_s']}/s, "
        f"CPU ms per check {alone['cpu_per_check']}"
    )
    return dict(alone)


def mixed_summary(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Medians over the rounds of the p99s (bare floor, checks alone, checks with ingest)."""

    def middle(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(median(known), 3) if known and len(known) == len(values) else None

    bare = [r["bare"]["p99_all_ms"] for r in rounds]
    floor: dict[str, Any] = {}
    if all("floor" in r for r in rounds):
        durable = [r["floor"]["alone"]["p99_all_ms"] for r in rounds]
        loaded = [r["floor"]["with_ingest"]["p99_all_ms"] for r in rounds]
        floored = [r["floor"]["with_records_floor"]["p99_all_ms"] for r in rounds]
        floor = {
            "floor_app": args.mixed_floor,
            "floor_alone_p99_ms": {"median": middle(durable), "runs": durable},
            "floor_with_ingest_p99_ms": {"median": middle(loaded), "runs": loaded},
            "floor_with_records_floor_p99_ms": {"median": middle(floored), "runs": floored},
            "records_floor_records_per_s": [
                r["floor"]["records_floor"]["records_per_s"] for r in rounds
            ],
            # Else the "floors together" were the check floor with less beside it.
            "records_floor_rate_achieved": all(
                r["floor"]["records_floor"]["records_per_s"] >= 0.95 * args.ingest_rate
                and r["floor"]["records_floor"]["not_ok"] == 0
                for r in rounds
            ),
            "floor_alone_cpu_ms_per_check": _cpu_medians(
                [r["floor"]["alone"]["cpu_per_check"] for r in rounds]
            ),
        }
    alone = [r["xinyong"]["checks_alone"]["p99_all_ms"] for r in rounds]
    both = [r["xinyong"]["checks_with_ingest"]["p99_all_ms"] for r in rounds]
    achieved = all(r["xinyong"]["rates_achieved"] for r in rounds)
    p99 = middle(both)
    return {
        "rounds": len(rounds),
        "bare_alone_p99_ms": {"median": middle(bare), "runs": bare},
        "bare_alone_cpu_ms_per_check": _cpu_medians([r["bare"]["cpu_per_check"] for r in rounds]),
        **floor,
        "checks_alone_p99_ms": {"median": middle(alone), "runs": alone},
        "checks_alone_cpu_ms_per_check": _cpu_medians(
            [r["xinyong"]["checks_alone"]["cpu_per_check"] for r in rounds]
        ),
        "checks_with_ingest_p99_ms": {"median": p99, "runs": both},
        "records_per_s": [r["xinyong"]["ingest"]["records_per_s"] for r in rounds],
        "records_rejected": [r["xinyong"]["ingest"]["records_rejected"] for r in rounds],
        "rates_achieved": achieved,
        "goal_p99_ms": GOAL_MIXED_P99_MS,
        "goal_met": bool(p99 is not None and p99 < GOAL_MIXED_P99_MS and achieved),
    }


def _cpu_medians(runs: list[dict[str, float]]) -> dict[str, Any]:
    """The medians of the rounds' CPU milliseconds per check, and the rounds'."""
    by_key = {key: [run[key] for run in runs] for key in ("server_ms", "machine_ms")}
    return {key: {"median": round(median(v), 3), "runs": v} for key, v in by_key.items()}


def _checks_spec(server: Server, ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "warmup": args.warmup,
        "mode": "open",
        "kind": "checks",
        "port": server.port,
        "subjects": str(ledger.subjects_path),
        "token": ledger.relying_token,
        "seed": args.seed,
        "rate": args.rate,
        "duration": args.duration,
        "pool": 16,
        "max_connections": MAX_OPEN_CONNECTIONS,
    }


def _ingest_spec(server: Server, ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "warmup": args.warmup,
        "mode": "open",
        "kind": "records",
        "port": server.port,
        "records": str(ledger.records_path),
        "token": ledger.source_token,
        "seed": args.seed,
        "rate": args.ingest_rate / args.ingest_batch,
        "batch": args.ingest_batch,
        "duration": args.duration,
        "pool": 4,
        "max_connections": 16,
    }


def floor_alone(floor: Server, ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    """The durable floor's latency at ``--rate`` checks/s, alone (run before the service's
    mixed runs of the round, whose ingest leaves the service and PostgreSQL busy afterwards)."""
    wait_idle(floor.pid)
    waited = wait_quiet(args.quiet_limit)
    mark = _cpu_mark(floor.pid)
    (alone,) = run_drivers([_checks_spec(floor, ledger, args)], args.duration + 200)
    alone["cpu_per_check"] = _cpu_per_check(mark, floor.pid, alone)
    alone["waited_quiet_s"] = waited
    _log(
        f"  {floor.app} alone: p50 {alone['latency']['p50_ms']} ms, p99 {alone['p99_all_ms']} ms, "
        f"CPU ms per check {alone['cpu_per_check']}"
    )
    return alone


def floor_with_ingest(
    floor: Server, taker: Server, ledger: Ledger, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The durable floor's latency at ``--rate`` checks/s while the records of the mixed phase
    are posted to ``taker`` (the service's API, or the records floor) in the same database."""
    wait_idle(taker.pid)
    waited = wait_quiet(args.quiet_limit)
    checks = {**_checks_spec(floor, ledger, args), "seed": args.seed + 1}
    timeout = args.duration + REQUEST_TIMEOUT + 180
    both, ingested = run_drivers([checks, _ingest_spec(taker, ledger, args)], timeout)
    both["waited_quiet_s"] = waited
    _log(
        f"  {floor.app} with records to {taker.app}: p50 {both['latency']['p50_ms']} ms, p99 "
        f"{both['p99_all_ms']} ms ({ingested['records_per_s']} records/s)"
    )
    return both, ingested


def mixed(server: Server, ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    """Open-loop checks at ``--rate``, alone and then with ingest at ``--ingest-rate``."""
    checks = _checks_spec(server, ledger, args)
    ingest = _ingest_spec(server, ledger, args)
    timeout = args.duration + REQUEST_TIMEOUT + 180
    out: dict[str, Any] = {}
    load_before = load_average()
    wait_idle(server.pid)
    waited = wait_quiet(args.quiet_limit)
    _diagnosis(server)
    cpu = _tree_cpu_seconds(server.pid)
    mark = _cpu_mark(server.pid)
    (alone,) = run_drivers([checks], timeout)
    alone["cpu_per_check"] = _cpu_per_check(mark, server.pid, alone)
    alone["waited_quiet_s"] = waited
    alone["load"] = load_average()
    alone["server_cpu_s"] = _cpu_delta(cpu, _tree_cpu_seconds(server.pid))
    alone["server_busy_after_s"] = wait_idle(server.pid)
    alone["diagnosis"] = _diagnosis(server)
    out["checks_alone"] = alone
    _log(
        f"  checks alone: p50 {alone['latency']['p50_ms']} ms, "
        f"p99 {alone['p99_all_ms']} ms, {alone['completed_per_s']}/s, "
        f"{alone['not_ok']} not answered 200, CPU ms per check {alone['cpu_per_check']}"
    )
    _log_diagnosis(alone)
    cpu = _tree_cpu_seconds(server.pid)
    both, ingested = run_drivers([{**checks, "seed": args.seed + 1}, ingest], timeout)
    both["load"] = load_average()
    both["server_cpu_s"] = _cpu_delta(cpu, _tree_cpu_seconds(server.pid))
    both["server_busy_after_s"] = wait_idle(server.pid)
    both["diagnosis"] = _diagnosis(server)
    out["checks_with_ingest"] = both
    out["ingest"] = ingested
    _log(
        f"  checks with ingest: p50 {both['latency']['p50_ms']} ms, "
        f"p99 {both['p99_all_ms']} ms, {both['completed_per_s']}/s, "
        f"{both['not_ok']} not answered 200; "
        f"ingest {ingested['records_per_s']} records/s, statuses {ingested['statuses']}"
    )
    _log_diagnosis(both)
    p99 = both["p99_all_ms"]
    achieved = (
        both["completed_per_s"] >= 0.95 * args.rate
        and ingested["records_per_s"] >= 0.95 * args.ingest_rate
    )
    out.update(
        {
            "rate": args.rate,
            "ingest_rate": args.ingest_rate,
            "ingest_batch": args.ingest_batch,
            "goal_p99_ms": GOAL_MIXED_P99_MS,
            "rates_achieved": achieved,
            "goal_met": bool(p99 is not None and p99 < GOAL_MIXED_P99_MS and achieved),
            "load_before": load_before,
        }
    )
    return out


# ------------------------------------------------------------------------------ main


def _worker_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise SystemExit(f"--workers: a comma list of positive counts, not {text!r}")
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="synthetic people")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help=f"ledger database: a SQLite file in --workdir, or {PG_DATABASE}_* on local PostgreSQL",
    )
    parser.add_argument("--orgs", type=int, default=0, help="synthetic organizations")
    parser.add_argument("--years", type=int, default=1, help="years of conduct records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workdir", default="/tmp/xinyong-bench-check", help="cache for the synth and ledger"
    )
    parser.add_argument("--checks", type=int, default=10_000, help="in-process checks")
    parser.add_argument("--profile", type=int, default=0, help="cProfile N more checks")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per HTTP run")
    parser.add_argument("--repeat", type=int, default=3, help="throughput pairs")
    parser.add_argument(
        "--warmup", type=float, default=WARMUP_SECONDS, help="seconds before each HTTP run counts"
    )
    parser.add_argument(
        "--quiet-limit",
        type=float,
        default=120.0,
        help="longest wait for an idle machine before a latency run (0: do not wait)",
    )
    parser.add_argument("--connections", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=500.0, help="checks/s in the mixed phase")
    parser.add_argument("--ingest-rate", type=float, default=1000.0, help="records/s")
    parser.add_argument("--ingest-batch", type=int, default=100, help="records per POST")
    parser.add_argument(
        "--record-batches", type=int, default=100, help="measured batches of the records phase"
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="comma list of worker process counts for the throughput phase (both servers)",
    )
    parser.add_argument(
        "--mixed-workers",
        type=int,
        default=1,
        help="xinyong serve --workers in the mixed phase",
    )
    parser.add_argument(
        "--mixed-repeat", type=int, default=3, help="rounds of the mixed phase (medians)"
    )
    parser.add_argument(
        "--floors",
        default=",".join(FLOOR_FACTORIES),
        type=_floor_names,
        help="comma list of the floors run beside the service in the throughput phase "
        "(PostgreSQL; empty for none)",
    )
    parser.add_argument(
        "--mixed-floor",
        default="floor",
        choices=sorted(FLOOR_FACTORIES),
        help="the floor measured beside the service in the mixed phase (PostgreSQL)",
    )
    parser.add_argument(
        "--phases",
        default="inproc,http,mixed",
        help="comma list of inproc, records, http, mixed",
    )
    parser.add_argument(
        "--http",
        choices=("httptools", "h11"),
        default="httptools",
        help="HTTP parser of both servers (as xinyong serve --http; httptools runs on uvloop)",
    )
    parser.add_argument("--max-phase-seconds", type=float, default=600.0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="wrap the xinyong server to report time inside the app, GC pauses and loop stalls",
    )
    parser.add_argument("--worker", choices=("serve", "drive"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker == "serve":
        serve(json.loads(args.spec))
        return 0
    if args.worker == "drive":
        drive(json.loads(args.spec))
        return 0
    os.environ[HTTP_ENV] = args.http  # the server processes inherit it
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine("uvicorn", "starlette", "psycopg"),
        "args": {k: v for k, v in vars(args).items() if k not in ("worker", "spec")},
        "load_start": load_average(),
    }
    ledger = build_ledger(args)
    results["build"] = {k: v for k, v in ledger.meta.items() if not k.endswith("_token")}
    results["refresh"] = refresh_today(ledger)
    ids = subject_ids(ledger.subjects_path)
    if "inproc" in phases:
        _log(f"in-process: {args.checks:,} checks")
        results["in_process"] = in_process(ledger, ids, args)
        r = results["in_process"]
        c = r["computed"]
        _log(f"  precomputed: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms")
        _log(f"  computed:    p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms, max {c['max_ms']} ms")
    del ids
    if "records" in phases:
        if args.backend != "postgres":
            raise SystemExit("--phases records: PostgreSQL only (--backend postgres)")
        _log(f"records path: {args.record_batches} batches of {args.ingest_batch} records")
        results["records"] = r = records_path(ledger, args)
        _log(
            f"  per batch: xinyong {r['xinyong']} (append {r['append']}, refresh "
            f"{r['refresh']}); raw {r['raw']}; CPU ratios: process {r['process_cpu_ratio']}, "
            f"machine {r['machine_cpu_ratio']}"
        )
    if phases & {"http", "mixed"}:
        log_dir = Path(args.workdir)
        servers: dict[str, Server] = {}
        try:
            if "http" in phases:
                results["http"] = {}
                for workers in _worker_counts(args.workers):
                    servers["xinyong"] = Server(
                        "xinyong", ledger.db_url, log_dir, workers, diagnose=args.diagnose
                    )
                    servers["bare"] = Server("bare", ledger.db_url, log_dir, workers)
                    if args.backend == "postgres":
                        create_floor_table(ledger.db_url)
                        for name in args.floors:
                            servers[name] = Server(name, ledger.db_url, log_dir, workers)
                    warm = wait_idle(servers["xinyong"].pid)
                    _log(
                        f"HTTP throughput: {args.connections} connections, {args.duration} s, "
                        f"{workers} worker process(es) each (xinyong idle {warm} s after start)"
                    )
                    measured = throughput(servers, ledger, args)
                    measured["server_exceptions"] = servers["xinyong"].exceptions()
                    measured["xinyong_idle_after_start_s"] = warm
                    results["http"][str(workers)] = measured
                    for name in list(servers):
                        servers.pop(name).stop()
            if "mixed" in phases:
                servers["xinyong"] = Server(
                    "xinyong", ledger.db_url, log_dir, args.mixed_workers, diagnose=args.diagnose
                )
                results["mixed_rounds"] = []
                for round_ in range(1, args.mixed_repeat + 1):
                    # The floor: the same open-loop client against the bare endpoint.
                    bare = Server("bare", ledger.db_url, log_dir)
                    try:
                        _log(f"mixed round {round_}: {args.rate} checks/s against bare Starlette")
                        floor = open_checks(bare, ledger, args)
                    finally:
                        bare.stop()
                    durable = None
                    if args.backend == "postgres":
                        create_floor_table(ledger.db_url)
                        durable = Server(
                            args.mixed_floor, ledger.db_url, log_dir, args.mixed_workers
                        )
                    try:
                        alone = None if durable is None else floor_alone(durable, ledger, args)
                        _log(
                            f"mixed round {round_}: {args.rate} checks/s, {args.ingest_rate} "
                            f"records/s, {args.mixed_workers} worker process(es)"
                        )
                        before = servers["xinyong"].exceptions()
                        measured = mixed(servers["xinyong"], ledger, args)
                        after = servers["xinyong"].exceptions()
                        measured["server_exceptions"] = {
                            k: v - before.get(k, 0)
                            for k, v in after.items()
                            if v > before.get(k, 0)
                        }
                        round_result = {"bare": floor, "xinyong": measured}
                        if durable is not None and alone is not None:
                            both, ingested = floor_with_ingest(
                                durable, servers["xinyong"], ledger, args
                            )
                            # The floors together: the records floor takes batches made as
                            # the service's are (the same shape and rate, other record ids).
                            taker = Server("floor-records", ledger.db_url, log_dir)
                            try:
                                floored, taken = floor_with_ingest(durable, taker, ledger, args)
                            finally:
                                taker.stop()
                            round_result["floor"] = {
                                "alone": alone,
                                "with_ingest": both,
                                "ingest": ingested,
                                "with_records_floor": floored,
                                "records_floor": taken,
                            }
                    finally:
                        if durable is not None:
                            durable.stop()
                    results["mixed_rounds"].append(round_result)
                results["mixed"] = mixed_summary(results["mixed_rounds"], args)
        finally:
            for server in servers.values():
                server.stop()
    results["load_end"] = load_average()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)
    return 0


def print_report(results: dict[str, Any]) -> None:
    build = results["build"]
    print(f"ledger: {build['subjects']:,} subjects, {build['records']:,} records")
    print(f"  build {build['build_s']} s {build['timings']}")
    if "in_process" in results:
        r = results["in_process"]
        print(
            f"in-process check_measure: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"max {r['max_ms']} ms (n={r['n']}, applies {r['applies']})"
        )
        if "profile" in r:
            print(r["profile"])
    if "records" in results:
        r = results["records"]
        print(
            f"records path, per batch of {r['records_per_batch']} (median wall, mean CPU): "
            f"xinyong {r['xinyong']} (append {r['append']}, refresh {r['refresh']}); "
            f"raw COPY {r['raw']}; CPU ratios: process {r['process_cpu_ratio']}, machine "
            f"{r['machine_cpu_ratio']}"
        )
    for workers, h in results.get("http", {}).items():
        m = h["median_requests_per_s"]
        print(
            f"HTTP, {workers} worker(s) each: xinyong {m['xinyong']:,.0f} req/s, bare "
            f"{m['bare']:,.0f} req/s, ratio {h['ratio']} {h['ratio_per_pair']} "
            f"(goal >= {GOAL_RATIO}: {'met' if h['goal_met'] else 'NOT met'})"
        )
        for app in FLOOR_FACTORIES:
            if app in m:
                key = app.replace("-", "_")
                print(
                    f"  {app} {m[app]:,.0f} req/s: {app} / bare {h[f'{key}_ratio']} "
                    f"{h[f'{key}_ratio_per_pair']}, xinyong / {app} {h[f'xinyong_to_{key}']}"
                )
    if "mixed" in results:
        x = results["mixed"]
        f, a, b = (
            x["bare_alone_p99_ms"],
            x["checks_alone_p99_ms"],
            x["checks_with_ingest_p99_ms"],
        )
        print(
            f"mixed ({x['rounds']} rounds, median p99): bare Starlette alone {f['median']} ms "
            f"{f['runs']}; xinyong alone {a['median']} ms {a['runs']}; with ingest "
            f"{b['median']} ms {b['runs']}, records/s {x['records_per_s']} "
            f"(goal p99 < {GOAL_MIXED_P99_MS} ms: {'met' if x['goal_met'] else 'NOT met'})"
        )
        if "floor_alone_p99_ms" in x:
            d, e = x["floor_alone_p99_ms"], x["floor_with_ingest_p99_ms"]
            g = x["floor_with_records_floor_p99_ms"]
            print(
                f"  {x['floor_app']} p99: alone {d['median']} ms {d['runs']}; with ingest "
                f"{e['median']} ms {e['runs']}; with the records floor {g['median']} ms "
                f"{g['runs']}, records/s {x['records_floor_records_per_s']} (offered rate "
                f"{'kept' if x['records_floor_rate_achieved'] else 'NOT kept'})"
            )
    print(f"load average: start {results['load_start']}, end {results['load_end']}")


if __name__ == "__main__":
    raise SystemExit(main())
