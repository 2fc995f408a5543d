"""Scoring benchmark: the ``rongcheng`` pilot over a synthetic population, three ways.

One run, one process, one DuckDB connection (``--threads``, default 2); (a), (b) and (c)
alternate ``--repeat`` times and medians are reported:

- **(a) xinyong**: ``xinyong.engines.duckdb.score_table(scheme, table, as_of, con=con)``, timed
  from the call to its return: finding the scheme version's SQL (compiled once per version,
  :mod:`xinyong.engines.compiled_sql`), binding the date, DuckDB's planning and the execution
  over the Arrow table where it is. Before it in every repeat, **(a) cold** is the same call
  with the SQL in no cache (the first scoring of a new version): it adds building the Ibis
  expression and compiling it to SQL. (a) is the goal's figure; (a) cold is reported beside it.
- **(b) hand-written SQL**, the ceiling: :data:`HAND_SQL`, one query written by hand for this
  pilot over the same Arrow table registered as a DuckDB view. It reads the scheme's codes only
  (the subject list still comes from every record), clears listings with a grouped ``max`` of the
  clearing records and a left join, and counts with ``FILTER``.
- **(c) pandas**, what an analyst writes: :func:`score_pandas` over ``table.to_pandas()`` (the
  conversion is timed separately and not counted in (c)).

(b) and (c) are written by hand from ``src/xinyong/pilots/rongcheng.toml``; nothing in them is
generated from the scheme. :data:`EXPECTED_PILOT` is a hand-written summary of the pilot they
implement: if the pilot file changes, the benchmark stops and says so.

The three results must agree for every subject (score within 0.01, grade, lists, measures), and
(a) must agree with the reference evaluator on a seeded sample of subjects; the run fails
(exit 1) otherwise. Peak memory is the peak RSS of each phase (``VmHWM`` after resetting it
through ``/proc/self/clear_refs``; the process-wide ``ru_maxrss`` where that is not possible)
and, since the alternating phases leave memory behind in the shared process, the peak of each
implementation run once more alone in a fresh process (unless ``--no-memory-children``).

Diagnostics (not goals) split (a) into its parts, run the one-pass hand query without the
pre-filter, and with ``--explain`` write ``EXPLAIN ANALYZE`` of both queries to the work dir.

Ledger latency (unless ``--skip-ledger``): a SQLite ledger with the synthetic subjects and
records (built once, reused when it already holds them), then for ``--latency-subjects`` random
persons (seeded) the time of ``subject_records`` + ``score_subject``, one subject at a time.

Run as ``python bench/score.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

import xinyong.pilots
from benchkit import git_commit, load_average, machine, median
from hand_rongcheng import HAND_SQL, HAND_SQL_ONE_PASS, hand_sql
from xinyong.domain.catalog import load_catalog
from xinyong.domain.record_table import input_records
from xinyong.engines.compiled_sql import RECORDS_TABLE, forget_compiled, scheme_sql
from xinyong.engines.duckdb import connect, score_table
from xinyong.ingest.files import ingest_records
from xinyong.ingest.subjects import load_subjects
from xinyong.ledger.append import read_head
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import records as records_table
from xinyong.ledger.schema import subjects as subjects_table
from xinyong.schemes.compile import compile_scheme
from xinyong.schemes.load import load_scheme
from xinyong.schemes.model import PointsPer, Scheme
from xinyong.scoring.as_ingested import displayed
from xinyong.scoring.ledger_source import subject_records
from xinyong.scoring.records_file import read_records_file
from xinyong.scoring.reference import score_records, score_subject
from xinyong.scoring.standing import Standing

AS_OF = date(2026, 10, 31)  # the end of the synthetic window (xinyong.synth.DEFAULT_END)
PILOT = Path(xinyong.pilots.__file__).with_name("rongcheng.toml")
GOAL_A_OVER_B = 1.1
"""Issue 21: (a) at most this multiple of the hand-written query (b)."""
GOAL_C_OVER_A = 6.0
"""Issue 21: pandas (c) at least this multiple of (a)."""
GOAL_P99_MS = 2.0
SCORE_TOLERANCE = 0.01
REFERENCE_SAMPLE = 1_000
WARMUP_SUBJECTS = 200
ARROW_VIEW = "bench_records"

# ------------------------------------------------------------------------------ the pilot

# What (b) and (c) implement, written by hand from rongcheng.toml. Rules:
# (id, match, points, valid days, decay, cap, when, cleared_by, veto).
# fmt: off
EXPECTED_PILOT: dict[str, Any] = {
    "subject_kinds": ("person",),
    "eligibility": {"min_age": 18, "consent": "required"},
    "base": 1000.0,
    "floor": 0.0,
    "ceiling": None,
    "grades": (("AAA", 1050.0), ("AA", 1030.0), ("A", 960.0), ("B", 850.0), ("C", 600.0),
               ("D", None)),
    "rules": (
        ("contract-default", "finance.contract_default", -20.0, "1y", "step", None, None,
         ("finance.repaid",), None),
        ("breach-judgment", "court.breach_judgment", -50.0, "1y", "step", None, None,
         ("court.judgment_performed",), None),
        ("bank-arrears", "finance.bank_arrears", ("months", -10.0, 3.0), "1y", "step", None,
         None, ("finance.repaid",), None),
        ("illegal-fundraising", "finance.illegal_fundraising", -40.0, "3y", "step", None, None,
         (), None),
        ("pyramid-selling", "finance.pyramid_selling", -30.0, "3y", "step", None, None, (), None),
        ("fraud", "finance.fraud", -30.0, "3y", "step", None, None, (), None),
        ("late-utility-fee", "utility.late_fee", -20.0, "3m", "step", None, None,
         ("utility.paid",), None),
        ("utility-theft", "utility.theft", -60.0, "1y", "step", None, None, (), None),
        ("equipment-damage", "utility.equipment_damage", -100.0, "1y", "step", None, None, (),
         None),
        ("blood-donation", "civic.blood_donation", 10.0, "2y", "step", 20.0, None, (), None),
        ("volunteer-service", "civic.volunteer_service", 5.0, "1y", "step", 20.0, None, (), None),
        ("commendation", "civic.commendation", 30.0, "3y", "step", 60.0, None, (), None),
    ),
    "lists": (
        ("black-list", (), ("equipment-damage", "fraud", "illegal-fundraising",
                            "pyramid-selling")),
        ("red-list", ("AA", "AAA"), ()),
    ),
    "measures": (
        ("deposit-free-bikes", (), ("red-list",)),
        ("enhanced-supervision", (), ("black-list",)),
        ("green-channel", (), ("red-list",)),
        ("no-honours", (), ("black-list",)),
    ),
}
# fmt: on


def pilot_summary(scheme: Scheme) -> dict[str, Any]:
    """The loaded scheme in the shape of :data:`EXPECTED_PILOT` (to detect a changed pilot)."""

    def number(value: float | None) -> float | None:
        return None if value is None else float(value)

    return {
        "subject_kinds": tuple(scheme.subject_kinds),
        "eligibility": None if scheme.eligibility is None else scheme.eligibility.model_dump(),
        "base": float(scheme.base),
        "floor": number(scheme.floor),
        "ceiling": number(scheme.ceiling),
        "grades": tuple((g.name, number(g.min)) for g in scheme.grades),
        "rules": tuple(
            (
                r.id,
                r.match,
                (r.points.per, float(r.points.each), float(r.points.max_units))
                if isinstance(r.points, PointsPer)
                else float(r.points),
                r.valid_for_text,
                r.decay,
                number(r.cap),
                r.when,
                tuple(sorted(r.cleared_by)),
                r.veto,
            )
            for r in scheme.rules
        ),
        "lists": tuple(
            sorted(
                (lst.id, tuple(sorted(lst.grades)), tuple(sorted(lst.rules)))
                for lst in scheme.lists
            )
        ),
        "measures": tuple(
            sorted((m.id, tuple(sorted(m.grades)), tuple(sorted(m.lists))) for m in scheme.measures)
        ),
    }


def check_pilot(scheme: Scheme) -> list[str]:
    """Differences between the pilot file and what the hand-written (b) and (c) implement."""
    actual = pilot_summary(scheme)
    problems: list[str] = []
    for key, expected in EXPECTED_PILOT.items():
        got = actual[key]
        want = sorted(expected) if key == "rules" else expected  # rule order does not matter
        if key == "rules":
            got = sorted(got)
        if got != want:
            problems.append(f"{key}: the pilot has {got!r}, the hand-written code {want!r}")
    return problems


# ------------------------------------------------------------------------------ (c) pandas

# The pilot's rules, by hand: (rule, code, points, valid months, cleared by); bank-arrears'
# points are per month of `months` (at most PANDAS_MAX_MONTHS).
PANDAS_RULES = (
    ("contract-default", "finance.contract_default", -20, 12, "finance.repaid"),
    ("breach-judgment", "court.breach_judgment", -50, 12, "court.judgment_performed"),
    ("bank-arrears", "finance.bank_arrears", -10, 12, "finance.repaid"),
    ("illegal-fundraising", "finance.illegal_fundraising", -40, 36, None),
    ("pyramid-selling", "finance.pyramid_selling", -30, 36, None),
    ("fraud", "finance.fraud", -30, 36, None),
    ("late-utility-fee", "utility.late_fee", -20, 3, "utility.paid"),
    ("utility-theft", "utility.theft", -60, 12, None),
    ("equipment-damage", "utility.equipment_damage", -100, 12, None),
    ("blood-donation", "civic.blood_donation", 10, 24, None),
    ("volunteer-service", "civic.volunteer_service", 5, 12, None),
    ("commendation", "civic.commendation", 30, 36, None),
)
PANDAS_PER_MONTH = "bank-arrears"
PANDAS_MAX_MONTHS = 3.0
PANDAS_CAPS = {"blood-donation": 20, "volunteer-service": 20, "commendation": 60}
PANDAS_BLACK_RULES = ["illegal-fundraising", "pyramid-selling", "fraud", "equipment-damage"]
PANDAS_CLEARING = ["finance.repaid", "court.judgment_performed", "utility.paid"]


def _json_number(text: str, key: str) -> float:
    """``attrs[key]`` when it is a JSON number, else NaN (unknown: compares false)."""
    value = json.loads(text).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _eligible(df: pd.DataFrame, day: pd.Timestamp) -> pd.Index:
    """Persons 18 or over by their resident ID whose latest consent record gives consent."""
    ids = pd.Series(df["subject_id"].unique())
    ids = ids[ids.str.fullmatch(r"[0-9]{17}[0-9X]")]
    born_year = ids.str.slice(6, 10).astype(int)
    born_md = ids.str.slice(10, 14).astype(int)
    age = day.year - born_year - (day.month * 100 + day.day < born_md).astype(int)
    adults = set(ids[age >= 18])
    consent = df[df["code"].isin(["consent.given", "consent.withdrawn"])]
    latest = consent.groupby(["subject_id", "code"])["occurred"].max().unstack("code")
    latest = latest.reindex(columns=["consent.given", "consent.withdrawn"])
    given, withdrawn = latest["consent.given"], latest["consent.withdrawn"]
    consenting = set(latest.index[given.notna() & (withdrawn.isna() | (given > withdrawn))])
    return pd.Index(sorted(adults & consenting))


def score_pandas(df: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The rongcheng pilot in plain pandas over the records frame (``table.to_pandas()``)."""
    day = pd.Timestamp(as_of)
    df = df.assign(occurred=pd.to_datetime(df["occurred_at"]))
    df = df[(df["subject_kind"] == "person") & (df["occurred"] <= day)]
    subjects = _eligible(df, day)

    # Latest clearing record per subject, case and clearing code.
    has_case = df["case_id"].notna() & (df["case_id"] != "")
    clearing = df[df["code"].isin(PANDAS_CLEARING) & has_case]
    latest = clearing.groupby(["subject_id", "case_id", "code"])["occurred"].max().unstack("code")

    rule_codes = sorted({code for _, code, _, _, _ in PANDAS_RULES})
    rows = df[df["code"].isin(rule_codes)]
    rows = rows.merge(latest, how="left", left_on=["subject_id", "case_id"], right_index=True)
    arrears = rows["code"] == "finance.bank_arrears"
    months = pd.Series(np.nan, index=rows.index)
    months[arrears] = [_json_number(text, "months") for text in rows.loc[arrears, "attrs"]]

    units = {}  # per rule and row: 1 for a counting record (its months for bank arrears), else 0
    for rule, code, _, valid_months, cleared_by in PANDAS_RULES:
        of_code = rows["code"] == code
        # a calendar term: the day the term ends, clamped to the month's last day
        ends = rows["occurred"].where(of_code) + pd.DateOffset(months=valid_months)
        live = of_code & (day < ends)
        if cleared_by is not None and cleared_by in rows:
            live &= ~(rows[cleared_by] >= rows["occurred"])
        if rule == PANDAS_PER_MONTH:
            live &= months >= 0
            units[rule] = months.clip(upper=PANDAS_MAX_MONTHS).where(live, 0.0)
        else:
            units[rule] = live.astype("float64")
    frame = pd.DataFrame(units).groupby(rows["subject_id"])
    counts = frame.sum().reindex(subjects, fill_value=0.0)

    points = counts * pd.Series({rule: p for rule, _, p, _, _ in PANDAS_RULES})
    for rule, cap in PANDAS_CAPS.items():
        points[rule] = points[rule].clip(-cap, cap)
    score = (1000 + points.sum(axis=1)).clip(lower=0).astype("float64")
    grade = np.select(
        [score >= 1050, score >= 1030, score >= 960, score >= 850, score >= 600],
        ["AAA", "AA", "A", "B", "C"],
        default="D",
    )
    red = score >= 1030
    black = (counts[PANDAS_BLACK_RULES] > 0).any(axis=1)
    lists = np.select(
        [black & red, black, red], ["black-list;red-list", "black-list", "red-list"], default=""
    )
    measures = np.select(
        [black & red, black, red],
        [
            "deposit-free-bikes;enhanced-supervision;green-channel;no-honours",
            "enhanced-supervision;no-honours",
            "deposit-free-bikes;green-channel",
        ],
        default="",
    )
    result = pd.DataFrame(
        {
            "subject_id": subjects,
            "score": score.to_numpy(),
            "grade": grade,
            "lists": lists,
            "measures": measures,
        }
    )
    return result.sort_values("subject_id", ignore_index=True)


# ------------------------------------------------------------------------------ measurements


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class PeakMemory:
    """Peak RSS per phase: Linux's VmHWM, reset at the start of each phase."""

    def __init__(self) -> None:
        self.resettable = self._reset()

    @staticmethod
    def _reset() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    @staticmethod
    def _status_kib(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    def start(self) -> int:
        """Reset the peak; return the current RSS in KiB."""
        if self.resettable:
            self._reset()
        return self._status_kib("VmRSS") or 0

    def peak_kib(self) -> int:
        """The peak RSS since :meth:`start` (the process's whole life if it cannot reset)."""
        if self.resettable:
            peak = self._status_kib("VmHWM")
            if peak is not None:
                return peak
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


@dataclass(slots=True)
class Phase:
    """Timings (seconds) and memory of one measured phase."""

    name: str
    label: str
    seconds: list[float] = field(default_factory=list)
    loadavg: list[float] = field(default_factory=list)
    """The 1-minute load average at the end of each run (other work on the machine)."""
    peak_rss_mib: float = 0.0
    start_rss_mib: float = 0.0

    @property
    def median(self) -> float:
        return median(self.seconds)


class Bench:
    """Phases measured in this process."""

    def __init__(self) -> None:
        self.memory = PeakMemory()
        self.phases: dict[str, Phase] = {}
        self.peak_rss_mib = 0.0

    def run(self, name: str, label: str, fn: Callable[[], Any]) -> Any:
        """Time ``fn`` once as a run of phase ``name``; keep the highest peak RSS seen."""
        phase = self.phases.setdefault(name, Phase(name, label))
        start = self.memory.start()
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        peak = self.memory.peak_kib()
        phase.seconds.append(seconds)
        phase.loadavg.append(load_average()[0])
        self.peak_rss_mib = max(self.peak_rss_mib, peak / 1024)
        if peak / 1024 > phase.peak_rss_mib:
            phase.peak_rss_mib = peak / 1024
            phase.start_rss_mib = start / 1024
        _say(
            f"  {label}: {seconds:.2f} s (peak RSS {peak / 1024:,.0f} MiB, "
            f"load average {phase.loadavg[-1]:.1f})"
        )
        return result


# ------------------------------------------------------------------------------ comparing


def as_frame(result: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """A result as a frame with the five output columns."""
    frame = result.to_pandas() if isinstance(result, pa.Table) else result
    return frame[["subject_id", "score", "grade", "lists", "measures"]]


def mismatches(left: pd.DataFrame, right: pd.DataFrame) -> tuple[int, list[dict[str, Any]]]:
    """Subjects whose standings differ (or that only one side has), and a few examples."""
    merged = left.merge(right, on="subject_id", how="outer", suffixes=("_l", "_r"), indicator=True)
    differ = merged["_merge"] != "both"
    differ |= ~((merged["score_l"] - merged["score_r"]).abs() <= SCORE_TOLERANCE + 1e-9)
    for column in ("grade", "lists", "measures"):
        differ |= merged[f"{column}_l"].astype(object) != merged[f"{column}_r"].astype(object)
    examples = merged[differ].head(5).drop(columns="_merge").to_dict("records")
    return int(differ.sum()), examples


def reference_mismatches(
    scheme: Scheme, table: pa.Table, engine_result: pd.DataFrame, sample: int, seed: int
) -> tuple[int, int]:
    """Score ``sample`` random subjects of (a) with the reference evaluator; count differences."""
    ids = sorted(engine_result["subject_id"].tolist())
    chosen = random.Random(seed).sample(ids, min(sample, len(ids)))
    part = table.filter(pc.is_in(table.column("subject_id"), pa.array(chosen, pa.string())))
    standings = score_records(scheme, list(input_records(Path("<sample>"), part)), AS_OF)
    ref = pd.DataFrame([s.row() for s in standings])
    mine = engine_result[engine_result["subject_id"].isin(chosen)]
    return mismatches(ref, mine)[0], len(chosen)


# ------------------------------------------------------------------------------ data


def synthesize(args: argparse.Namespace) -> tuple[Path, Path, float | None]:
    """The synthetic records and subjects files (made with ``xinyong synth`` unless present)."""
    stem = f"synth-p{args.people}-o{args.orgs}-y{args.years}-s{args.seed}"
    records = args.workdir / f"{stem}.parquet"
    subjects = args.workdir / f"{stem}.subjects.parquet"
    if records.is_file() and subjects.is_file():
        _say(f"reusing {records}")
        return records, subjects, None
    partial = args.workdir / f"{stem}.partial.parquet"
    command = [
        sys.executable,
        "-m",
        "xinyong",
        "synth",
        "--people",
        str(args.people),
        "--orgs",
        str(args.orgs),
        "--years",
        str(args.years),
        "--seed",
        str(args.seed),
        "--end",
        AS_OF.isoformat(),
        "--out",
        str(partial),
    ]
    _say("synthesizing: " + " ".join(command[2:]))
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=sys.stderr)
    seconds = time.perf_counter() - started
    partial.with_name(f"{stem}.partial.subjects.parquet").replace(subjects)
    partial.replace(records)  # last: its presence means both files are complete
    return records, subjects, seconds


# ------------------------------------------------------------------------------ batch phases


@dataclass(slots=True)
class BatchResult:
    """What the batch comparison measured."""

    records: int
    subjects_scored: int
    load_seconds: float
    to_pandas_seconds: float
    mismatches_b: int
    mismatches_c: int
    examples: list[dict[str, Any]]
    reference_checked: int
    reference_mismatches: int
    compiled_sql_bytes: int
    plan_seconds_a: float
    plan_seconds_b: float


def batch(
    args: argparse.Namespace, bench: Bench, scheme: Scheme, records_path: Path
) -> tuple[BatchResult, pd.DataFrame]:
    """(a), (b) and (c), ``--repeat`` times each, and the checks; return (a)'s standings too."""
    table = bench.run(
        "load", "load records file into Arrow", lambda: read_records_file(records_path)
    )
    _say(f"{table.num_rows:,} records, {table.nbytes / 2**20:,.0f} MiB in Arrow")
    # What the catalog still shows on the as-of date, for (a), (b) and (c) alike: a records file
    # is scored as if ingested (xinyong.scoring.as_ingested), outside the timed runs.
    table = displayed(table, AS_OF, load_catalog())
    con = connect(threads=args.threads)
    raw = con.con  # the DuckDB connection under Ibis: the same one for (a) and (b)
    raw.register(ARROW_VIEW, table)
    sql_b = hand_sql(HAND_SQL, ARROW_VIEW, AS_OF)

    started = time.perf_counter()
    df = table.to_pandas()
    to_pandas_seconds = time.perf_counter() - started
    _say(f"table.to_pandas(): {to_pandas_seconds:.2f} s")

    # (a), (b) and (c) alternate, so that each repeat sees about the same machine load.
    result_a = result_b = result_c = None
    for attempt in range(1, args.repeat + 1):
        _say(f"run {attempt}/{args.repeat}")
        bench.run(
            "a.cold",
            "  (a) with nothing compiled yet (a new scheme version)",
            lambda: cold_score_table(args.workdir, scheme, table, con),
        )
        result_a = bench.run(
            "a",
            "(a) xinyong score_table (the version compiled before)",
            lambda: score_table(scheme, table, AS_OF, con=con),
        )
        result_b = bench.run("b", "(b) hand-written SQL", lambda: raw.sql(sql_b).to_arrow_table())
        result_c = bench.run("c", "(c) pandas", lambda: score_pandas(df, AS_OF))
        if not args.no_diagnostics:
            diagnose_once(bench, scheme, table, con)
    assert result_a is not None
    assert result_b is not None
    assert result_c is not None

    plan_a, plan_b, sql_bytes = plan_times(scheme, con, sql_b)
    if args.explain:
        explain(args.workdir, scheme, con, table, sql_b)

    frame_a = as_frame(result_a)
    count_b, examples_b = mismatches(frame_a, as_frame(result_b))
    _say(f"(a) vs (b): {count_b:,} mismatches")
    count_c, examples_c = mismatches(frame_a, as_frame(result_c))
    _say(f"(a) vs (c): {count_c:,} mismatches")
    ref_bad, ref_checked = reference_mismatches(scheme, table, frame_a, REFERENCE_SAMPLE, args.seed)
    _say(f"(a) vs the reference evaluator on {ref_checked:,} random subjects: {ref_bad} mismatches")
    del result_a, result_b, result_c
    raw.unregister(ARROW_VIEW)
    con.disconnect()
    return BatchResult(
        records=table.num_rows,
        subjects_scored=len(frame_a),
        load_seconds=bench.phases["load"].median,
        to_pandas_seconds=to_pandas_seconds,
        mismatches_b=count_b,
        mismatches_c=count_c,
        examples=examples_b + examples_c,
        reference_checked=ref_checked,
        reference_mismatches=ref_bad,
        compiled_sql_bytes=sql_bytes,
        plan_seconds_a=plan_a,
        plan_seconds_b=plan_b,
    ), frame_a


def cold_score_table(workdir: Path, scheme: Scheme, table: pa.Table, con: Any) -> pa.Table:
    """(a) as the first scoring of a scheme version: its SQL in no cache, compiled first."""
    cache = workdir / "compiled-sql"
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["XINYONG_CACHE_DIR"] = str(cache)
    forget_compiled()
    return score_table(scheme, table, AS_OF, con=con)


def diagnose_once(bench: Bench, scheme: Scheme, table: pa.Table, con: Any) -> None:
    """(a) in its parts, and the one-pass hand query (diagnostics, no goals)."""
    raw = con.con
    loaded = bench.run(
        "a.load",
        "  (a) part: copy Arrow into DuckDB (create_table)",
        lambda: con.create_table("records", table, overwrite=True),
    )
    expr = bench.run(
        "a.compile", "  (a) part: compile_scheme + SQL text", lambda: _compile(scheme, loaded)
    )
    bench.run(
        "a.execute",
        "  (a) part: to_pyarrow(expr) on the loaded table",
        lambda: con.to_pyarrow(expr[0]),
    )
    bench.run(
        "b.table",
        "  (b) over the DuckDB table (a) loaded",
        lambda: raw.sql(hand_sql(HAND_SQL, "records", AS_OF)).to_arrow_table(),
    )
    bench.run(
        "b.one_pass",
        "  hand-written SQL, one pass without pre-filter",
        lambda: raw.sql(hand_sql(HAND_SQL_ONE_PASS, ARROW_VIEW, AS_OF)).to_arrow_table(),
    )


def _compile(scheme: Scheme, loaded: Any) -> tuple[Any, str]:
    expr = compile_scheme(scheme, loaded, AS_OF)
    return expr, str(ibis.to_sql(expr, dialect="duckdb"))


def plan_times(scheme: Scheme, con: Any, sql_b: str) -> tuple[float, float, int]:
    """DuckDB's parse + plan time (EXPLAIN, no execution) of (a)'s SQL and of (b); SQL size."""
    loaded = con.create_table(
        "records",
        pa.table(
            {
                name: pa.array([], pa.date32() if name == "occurred_at" else pa.string())
                for name in (
                    "record_id",
                    "source",
                    "subject_id",
                    "subject_kind",
                    "code",
                    "occurred_at",
                    "case_id",
                    "attrs",
                )
            }
        ),
        overwrite=True,
    )
    _, sql_a = _compile(scheme, loaded)
    raw = con.con
    times = []
    for sql in (sql_a, sql_b):
        started = time.perf_counter()
        raw.execute("EXPLAIN " + sql).fetchall()
        times.append(time.perf_counter() - started)
    return times[0], times[1], len(sql_a.encode())


def explain(workdir: Path, scheme: Scheme, con: Any, table: pa.Table, sql_b: str) -> None:
    """Write EXPLAIN ANALYZE of (a)'s SQL and of (b), both over the Arrow table, to the work
    dir."""
    raw = con.con
    raw.register(RECORDS_TABLE, table)
    sql_a = scheme_sql(scheme, AS_OF, ledger=False)
    for name, sql in (("a", sql_a), ("b", sql_b)):
        out = raw.execute("EXPLAIN ANALYZE " + sql).fetchall()
        path = workdir / f"explain-{name}.txt"
        path.write_text(out[0][1])
        (workdir / f"query-{name}.sql").write_text(sql)
        _say(f"wrote {path}")
    raw.unregister(RECORDS_TABLE)


# ------------------------------------------------------------------------------ memory


@dataclass(slots=True)
class ChildMemory:
    """One engine's single run in a fresh process: what memory scoring alone takes."""

    engine: str
    seconds: float
    rss_after_load_mib: float
    peak_rss_mib: float


def _child_run(engine: str, records_path: str, threads: int) -> ChildMemory:
    """In a fresh interpreter: load the records into Arrow, then score them once with ``engine``."""
    scheme = load_scheme(PILOT).scheme
    table = read_records_file(Path(records_path))
    memory = PeakMemory()
    loaded = memory.start() / 1024
    started = time.perf_counter()
    if engine == "a":
        score_table(scheme, table, AS_OF, con=connect(threads=threads))
    elif engine == "b":
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET threads = {int(threads)}")
        con.register(ARROW_VIEW, table)
        con.sql(hand_sql(HAND_SQL, ARROW_VIEW, AS_OF)).to_arrow_table()
    else:
        score_pandas(table.to_pandas(), AS_OF)
    seconds = time.perf_counter() - started
    peak = memory.peak_kib() / 1024
    if not memory.resettable:  # ru_maxrss then covers the load too
        peak = max(peak, loaded)
    return ChildMemory(engine, seconds, loaded, peak)


def memory_children(records_path: Path, threads: int) -> list[ChildMemory]:
    """(a), (b) and (c) once each, each in its own fresh process (spawned)."""
    results = []
    context = multiprocessing.get_context("spawn")
    for engine in ("a", "b", "c"):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            child = pool.submit(_child_run, engine, str(records_path), threads).result()
        _say(
            f"  fresh process ({engine}): {child.seconds:.2f} s, RSS "
            f"{child.rss_after_load_mib:,.0f} MiB after loading the records, peak "
            f"{child.peak_rss_mib:,.0f} MiB while scoring"
        )
        results.append(child)
    return results


# ------------------------------------------------------------------------------ ledger


@dataclass(slots=True)
class LedgerResult:
    """Ledger build and per-subject latency."""

    path: str
    reused: bool
    built_at_commit: str
    db_mib: float
    load_subjects_seconds: float
    ingest_seconds: float
    ingest_rows_per_second: float
    subjects: int
    latency_subjects: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    query_p50_ms: float
    query_p99_ms: float
    score_p50_ms: float
    score_p99_ms: float
    records_per_subject_median: float
    records_per_subject_max: int
    standings_checked: int
    standings_mismatches: int
    peak_rss_mib: float
    loadavg: tuple[float, float]
    """The 1-minute load average before and after the timed loop."""


def build_ledger(
    workdir: Path, records_path: Path, subjects_path: Path, catalog: Any, rebuild: bool
) -> tuple[Path, dict[str, Any], bool]:
    """A SQLite ledger holding the synthetic files; reused when its marker matches them."""
    db = workdir / f"{records_path.stem}.ledger.db"
    marker = db.with_suffix(".json")
    rows = pq.ParquetFile(records_path).metadata.num_rows
    people = pq.ParquetFile(subjects_path).metadata.num_rows
    identity = {
        "records_file": str(records_path),
        "records_bytes": records_path.stat().st_size,
        "records": rows,
        "subjects": people,
    }
    if db.is_file() and marker.is_file() and not rebuild:
        info = json.loads(marker.read_text())
        if all(info.get(k) == v for k, v in identity.items()):
            with sqlite3.connect(db) as check:
                held = check.execute("SELECT count(*) FROM records").fetchone()[0]
            if held == rows:
                _say(f"reusing the ledger {db} ({held:,} records)")
                return db, info, True
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    engine = open_database(f"sqlite:///{db}")
    _say(f"building the ledger {db}: subjects")
    started = time.perf_counter()
    subjects_report = load_subjects(engine, subjects_path)
    subjects_seconds = time.perf_counter() - started
    _say(f"  {subjects_report.added:,} subjects in {subjects_seconds:.1f} s; records")
    started = time.perf_counter()
    report = ingest_records(engine, records_path, catalog)
    ingest_seconds = time.perf_counter() - started
    engine.dispose()
    _say(
        f"  {report.accepted:,} records in {ingest_seconds:.1f} s "
        f"({report.accepted / ingest_seconds:,.0f} rows/s), {report.rejected:,} rejected"
    )
    if report.accepted != rows or subjects_report.rejected:
        raise SystemExit(
            f"ledger build: {report.accepted:,} of {rows:,} records accepted, "
            f"{subjects_report.rejected:,} subjects rejected"
        )
    info = {
        **identity,
        "load_subjects_seconds": subjects_seconds,
        "ingest_seconds": ingest_seconds,
        "built": date.today().isoformat(),
        "commit": git_commit(),
    }
    marker.write_text(json.dumps(info, indent=2))
    return db, info, False


def percentile(values: list[int], q: float) -> float:
    """The ``q``-th percentile (nearest rank) in milliseconds of nanosecond samples."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1] / 1e6


def ledger_latency(
    args: argparse.Namespace,
    bench: Bench,
    scheme: Scheme,
    records_path: Path,
    subjects_path: Path,
    engine_result: pd.DataFrame,
) -> LedgerResult:
    """Build (or reuse) the ledger, then time scoring one subject at a time."""
    catalog = load_catalog()
    start = bench.memory.start()
    db, info, reused = build_ledger(
        args.workdir, records_path, subjects_path, catalog, args.rebuild_ledger
    )
    subjects = pq.read_table(subjects_path, columns=["subject_id", "kind"])
    people = sorted(
        subjects.filter(pc.equal(subjects.column("kind"), "person"))
        .column("subject_id")
        .to_pylist()
    )
    rng = random.Random(args.seed)
    chosen = rng.sample(people, min(args.latency_subjects, len(people)))
    warmup = rng.sample(people, min(WARMUP_SUBJECTS, len(people)))
    engine = open_database(f"sqlite:///{db}")
    totals: list[int] = []
    queries: list[int] = []
    counts: list[int] = []
    standings: list[Standing] = []
    with engine.connect() as conn:
        held = conn.execute(sa.select(sa.func.count()).select_from(subjects_table)).scalar_one()
        known_at = read_head(conn).size
        for subject_id in warmup:
            score_subject(
                scheme,
                subject_id,
                subject_records(conn, subject_id, AS_OF, known_at, catalog),
                AS_OF,
            )
        _say(f"timing {len(chosen):,} subjects one at a time (after {len(warmup)} warm-up)")
        load_before = load_average()[0]
        for subject_id in chosen:
            started = time.perf_counter_ns()
            found = subject_records(conn, subject_id, AS_OF, known_at, catalog)
            fetched = time.perf_counter_ns()
            standing = score_subject(scheme, subject_id, found, AS_OF)
            done = time.perf_counter_ns()
            totals.append(done - started)
            queries.append(fetched - started)
            counts.append(len(found))
            standings.append(standing)
        load_after = load_average()[0]
        held_records = conn.execute(
            sa.select(sa.func.count()).select_from(records_table)
        ).scalar_one()
    engine.dispose()
    peak = bench.memory.peak_kib()
    bench.peak_rss_mib = max(bench.peak_rss_mib, peak / 1024)
    # Subjects with no record are not in (a) (records-file mode scores subjects with records):
    # their standing is the base score.
    by_id = engine_result.set_index("subject_id")
    mine = pd.DataFrame([s.row() for s in standings])
    theirs = by_id.reindex(mine["subject_id"])
    base = scheme.grade_for(scheme.base)
    theirs = theirs.fillna(
        {
            "score": float(scheme.base),
            "grade": scheme.grades[base].name,
            "lists": "",
            "measures": "",
        }
    ).reset_index()
    bad, examples = mismatches(mine, theirs)
    if bad:
        _say(f"ledger standings differ from (a) for {bad} subjects, e.g. {examples[:2]}")
    _say(f"ledger: {held:,} subjects, {held_records:,} records")
    return LedgerResult(
        path=str(db),
        reused=reused,
        built_at_commit=info.get("commit", "unknown"),
        db_mib=db.stat().st_size / 2**20,
        load_subjects_seconds=info["load_subjects_seconds"],
        ingest_seconds=info["ingest_seconds"],
        ingest_rows_per_second=info["records"] / info["ingest_seconds"],
        subjects=held,
        latency_subjects=len(chosen),
        p50_ms=percentile(totals, 50),
        p90_ms=percentile(totals, 90),
        p99_ms=percentile(totals, 99),
        max_ms=max(totals) / 1e6,
        query_p50_ms=percentile(queries, 50),
        query_p99_ms=percentile(queries, 99),
        score_p50_ms=percentile([t - q for t, q in zip(totals, queries, strict=True)], 50),
        score_p99_ms=percentile([t - q for t, q in zip(totals, queries, strict=True)], 99),
        records_per_subject_median=median(counts),
        records_per_subject_max=max(counts),
        standings_checked=len(mine),
        standings_mismatches=bad,
        peak_rss_mib=max(peak, start) / 1024,
        loadavg=(load_before, load_after),
    )


# ------------------------------------------------------------------------------ reporting


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def report_table(bench: Bench, result: BatchResult, ledger: LedgerResult | None) -> str:
    """The results as Markdown."""
    p = bench.phases
    a, b, c = p["a"].median, p["b"].median, p["c"].median
    lines = [
        "| phase | median s | ratio | goal | met | peak RSS MiB (at start) |",
        "|---|---:|---:|---|---|---:|",
        f"| load records file into Arrow | {p['load'].median:.2f} | | | "
        f"| {p['load'].peak_rss_mib:,.0f} ({p['load'].start_rss_mib:,.0f}) |",
    ]
    rows = (
        ("a", f"{a / b:.2f} (a)/(b)", f"<= {GOAL_A_OVER_B}", a / b <= GOAL_A_OVER_B),
        ("b", "1.00", "", None),
        ("c", f"{c / a:.1f} (c)/(a)", f">= {GOAL_C_OVER_A:g}", c / a >= GOAL_C_OVER_A),
    )
    for name, ratio, goal, met in rows:
        phase = p[name]
        lines.append(
            f"| {phase.label} | {phase.median:.2f} | {ratio} | {goal} "
            f"| {'' if met is None else _yes(met)} "
            f"| {phase.peak_rss_mib:,.0f} ({phase.start_rss_mib:,.0f}) |"
        )
    cold = p["a.cold"]
    lines.append(
        f"| {cold.label.strip()} | {cold.median:.2f} | {cold.median / b:.2f} (a, cold)/(b) "
        f"| | | {cold.peak_rss_mib:,.0f} ({cold.start_rss_mib:,.0f}) |"
    )
    lines.append(f"| table.to_pandas() (not in (c)) | {result.to_pandas_seconds:.2f} | | | | |")
    for name in ("a.load", "a.compile", "a.execute", "b.table", "b.one_pass"):
        if name in p:
            phase = p[name]
            lines.append(
                f"| diagnostic: {phase.label.strip()} | {phase.median:.2f} "
                f"| {phase.median / b:.2f} x (b) | | | {phase.peak_rss_mib:,.0f} |"
            )
    if ledger is not None:
        lines.append(
            f"| ledger: one subject, subject_records + score_subject | p50 {ledger.p50_ms:.2f} ms,"
            f" p99 {ledger.p99_ms:.2f} ms, max {ledger.max_ms:.2f} ms | | p99 < {GOAL_P99_MS:g} ms"
            f" | {_yes(ledger.p99_ms < GOAL_P99_MS)} | {ledger.peak_rss_mib:,.0f} |"
        )
    lines.append("")
    lines.append(
        f"{result.records:,} records, {result.subjects_scored:,} subjects scored; mismatches "
        f"(a) vs (b): {result.mismatches_b}, (a) vs (c): {result.mismatches_c}, (a) vs the "
        f"reference evaluator on {result.reference_checked:,} random subjects: "
        f"{result.reference_mismatches}"
    )
    lines.append(
        f"DuckDB parse + plan (EXPLAIN, no execution): (a)'s SQL {result.plan_seconds_a:.2f} s "
        f"({result.compiled_sql_bytes / 1024:,.0f} KiB of SQL), (b) {result.plan_seconds_b:.3f} s"
    )
    for name in ("a", "b", "c"):
        runs = ", ".join(f"{s:.2f}" for s in p[name].seconds)
        lines.append(f"{p[name].label} runs: {runs}")
    if ledger is not None:
        lines.append(
            f"ledger: {ledger.subjects:,} subjects, {ledger.db_mib:,.0f} MiB SQLite file "
            f"({'reused' if ledger.reused else 'built in this run'}, at commit "
            f"{ledger.built_at_commit}); load_subjects "
            f"{ledger.load_subjects_seconds:.1f} s, ingest_records {ledger.ingest_seconds:.1f} s "
            f"({ledger.ingest_rows_per_second:,.0f} rows/s); latency over "
            f"{ledger.latency_subjects:,} random persons: p50 {ledger.p50_ms:.2f} ms, p90 "
            f"{ledger.p90_ms:.2f} ms, p99 {ledger.p99_ms:.2f} ms, max {ledger.max_ms:.2f} ms "
            f"(subject_records alone: p50 {ledger.query_p50_ms:.2f} ms, p99 "
            f"{ledger.query_p99_ms:.2f} ms; score_subject alone: p50 {ledger.score_p50_ms:.2f} ms, "
            f"p99 {ledger.score_p99_ms:.2f} ms); records per subject: median "
            f"{ledger.records_per_subject_median:g}, max "
            f"{ledger.records_per_subject_max}; standings vs (a): {ledger.standings_mismatches} "
            f"mismatches of {ledger.standings_checked:,}; load average {ledger.loadavg[0]:.1f} "
            f"before and {ledger.loadavg[1]:.1f} after the timed loop"
        )
    return "\n".join(lines)


def process_peak_mib(bench: Bench) -> float:
    """The whole run's peak RSS (``ru_maxrss`` alone misses peaks before a reset)."""
    return max(bench.peak_rss_mib, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Benchmark scoring the rongcheng pilot: xinyong on DuckDB, hand-written "
        "SQL, pandas, and the per-subject path over a SQLite ledger."
    )
    parser.add_argument("--people", type=int, default=1_000_000, help="synthetic people")
    parser.add_argument("--orgs", type=int, default=20_000, help="synthetic organizations")
    parser.add_argument("--years", type=int, default=5, help="years of synthetic records")
    parser.add_argument("--seed", type=int, default=7, help="seed of synth and of the samples")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase; medians reported")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/xinyong-bench"),
        help="cache for the synthetic files and the ledger (reused when present)",
    )
    parser.add_argument("--skip-ledger", action="store_true", help="no ledger latency phase")
    parser.add_argument(
        "--rebuild-ledger", action="store_true", help="build the ledger even if one is cached"
    )
    parser.add_argument(
        "--latency-subjects",
        type=int,
        default=10_000,
        help="random persons scored one at a time from the ledger",
    )
    parser.add_argument(
        "--no-diagnostics",
        action="store_true",
        help="skip the parts of (a) and the one-pass hand query",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="write EXPLAIN ANALYZE of (a)'s SQL and of (b) to the work dir",
    )
    parser.add_argument(
        "--no-memory-children",
        action="store_true",
        help="skip running (a), (b), (c) once each in a fresh process for their peak RSS",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.people < 1 or args.repeat < 1 or args.latency_subjects < 1 or args.threads < 1:
        parser.error("--people, --repeat, --latency-subjects and --threads must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results; 1 if any result disagrees."""
    cli = sys.argv[1:] if argv is None else argv
    args = parse_args(cli)
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    scheme = load_scheme(PILOT).scheme
    problems = check_pilot(scheme)
    if problems:
        for problem in problems:
            _say(problem)
        _say(f"{PILOT} changed: update HAND_SQL, score_pandas and EXPECTED_PILOT to match it")
        return 2
    records_path, subjects_path, synth_seconds = synthesize(args)
    bench = Bench()
    if not bench.memory.resettable:
        _say("cannot reset the peak RSS: peaks are process-wide (ru_maxrss)")
    result, frame_a = batch(args, bench, scheme, records_path)
    children: list[ChildMemory] = []
    if not args.no_memory_children:
        _say("peak memory of each engine alone, in fresh processes")
        children = memory_children(records_path, args.threads)
    ledger = None
    if not args.skip_ledger:
        ledger = ledger_latency(args, bench, scheme, records_path, subjects_path, frame_a)
    info = machine("duckdb", "ibis", "pandas", "pyarrow")
    if args.json:
        payload = {
            "machine": info,
            "command": " ".join(["python", "bench/score.py", *cli]),
            "synth_seconds": synth_seconds,
            "goals": {"a_over_b": GOAL_A_OVER_B, "c_over_a": GOAL_C_OVER_A, "p99_ms": GOAL_P99_MS},
            "phases": {
                name: {**asdict(phase), "median": phase.median}
                for name, phase in bench.phases.items()
            },
            "batch": asdict(result),
            "ledger": None if ledger is None else asdict(ledger),
            "memory_children": [asdict(child) for child in children],
            "process_peak_rss_mib": process_peak_mib(bench),
        }
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(
            f"{info['date']}, {info['nproc']} cores, {info['cpu']}, "
            f"{info['memory_gib']} GiB, Python {info['python']}, DuckDB {info['duckdb']}, "
            f"Ibis {info['ibis']}, pandas {info['pandas']}, SQLite {info['sqlite']}"
        )
        print(f"commit {info['commit']}; command: python bench/score.py {' '.join(cli)}")
        print(report_table(bench, result, ledger))
        for child in children:
            print(
                f"fresh process ({child.engine}): {child.seconds:.2f} s, RSS "
                f"{child.rss_after_load_mib:,.0f} MiB after loading the records into Arrow, peak "
                f"{child.peak_rss_mib:,.0f} MiB while scoring"
            )
        print(f"process peak RSS: {process_peak_mib(bench):,.0f} MiB")
    failed = result.mismatches_b or result.mismatches_c or result.reference_mismatches
    if failed:
        examples = orjson.dumps(result.examples[:5], default=str).decode()
        _say(
            f"RESULTS DIFFER: (b) {result.mismatches_b}, (c) {result.mismatches_c}, reference "
            f"{result.reference_mismatches}; examples: {examples}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
