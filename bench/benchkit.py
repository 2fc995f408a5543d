"""What every benchmark under bench/ shares: timing, medians, waiting for a quiet machine, and
where the numbers were measured.

A benchmark script imports it as ``from benchkit import ...`` (Python puts the script's folder
first on the path). Figures are medians of repeated runs, baselines measured in the same run
(docs/benchmarks.md): this machine has 2 cores and other work on it, so a single run or a
figure from another run says little.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "CpuTimed",
    "Timing",
    "cpu_timed",
    "git_commit",
    "load_average",
    "machine",
    "machine_cpu_seconds",
    "median",
    "percentile",
    "timed",
    "wait_quiet",
]

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def timed(function: Callable[[], T]) -> tuple[float, T]:
    """Seconds one call takes (``perf_counter``), and its result."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


@dataclass(frozen=True)
class CpuTimed:
    """One call's wall time and the CPU it took: this process's own (user and system, every
    thread), and the whole machine's (every process, a database server on the same machine
    included), in CPU-seconds."""

    seconds: float
    process_cpu_s: float
    machine_cpu_s: float


def cpu_timed(function: Callable[[], T]) -> tuple[CpuTimed, T]:
    """:func:`timed`, with the CPU the call used in this process and on the whole machine.

    The machine's CPU-seconds divided by its cores bound the wall time of the same work from
    below, however it were spread over processes and cores: a benchmark can say whether a
    ratio is out of reach of any schedule of the work it measured, not only of this one.
    """
    process = time.process_time()
    machine = machine_cpu_seconds()
    seconds, result = timed(function)
    return (
        CpuTimed(
            seconds,
            time.process_time() - process,
            machine_cpu_seconds() - machine,
        ),
        result,
    )


def machine_cpu_seconds() -> float:
    """CPU-seconds spent by every CPU since boot in user, nice, system, irq and softirq time
    (not idle or iowait; not steal, which another machine used; not guest, already in user)."""
    user, nice, system, _idle, _iowait, irq, softirq = _cpu_fields()[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _cpu_fields() -> list[int]:
    """The jiffies of all CPUs since boot, by kind (``/proc/stat``'s first line)."""
    with open("/proc/stat", encoding="ascii") as stat:
        return [int(x) for x in stat.readline().split()[1:]]


def median(values: Iterable[float]) -> float:
    """The median, NaN for no values (a phase that did not run)."""
    listed = list(values)
    return statistics.median(listed) if listed else float("nan")


def percentile(values: Iterable[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0.5 the median's upper neighbour, 0.99 the p99): a
    value that was measured, never one interpolated between two."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Timing:
    """Seconds of each repetition of one measured thing."""

    seconds: list[float] = field(default_factory=list)

    def add(self, function: Callable[[], T]) -> T:
        """Time one call of ``function`` as a repetition; return its result."""
        seconds, result = timed(function)
        self.seconds.append(seconds)
        return result

    @property
    def median(self) -> float:
        return median(self.seconds)

    def summary(self, digits: int = 3) -> dict[str, float | int]:
        """Median, minimum, maximum and the number of repetitions, for a JSON report."""
        if not self.seconds:
            return {"n": 0}
        return {
            "median_s": round(self.median, digits),
            "min_s": round(min(self.seconds), digits),
            "max_s": round(max(self.seconds), digits),
            "n": len(self.seconds),
        }


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (other work on the machine)."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = _cpu_fields()
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def wait_quiet(limit: float = 120.0) -> float:
    """Wait until the whole machine is nearly idle (other processes, a database's backends and
    a server's background work included): two half-seconds in a row with the CPUs at least
    90 % idle, for at most ``limit`` seconds. Returns the seconds waited."""
    started = time.monotonic()
    quiet = 0
    last = _cpu_times()
    while time.monotonic() - started < limit and quiet < 2:
        time.sleep(0.5)
        now = _cpu_times()
        busy, total = now[0] - last[0], now[1] - last[1]
        quiet = quiet + 1 if total and busy / total < 0.1 else 0
        last = now
    return round(time.monotonic() - started, 1)


def _git(*args: str) -> str:
    """The output of a read-only git command in the repository."""
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def git_commit() -> str:
    """The commit measured, ``+dirty`` when ``src/`` has changes not committed."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "src")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine(*libraries: str) -> dict[str, Any]:
    """Where and on what the numbers were measured: the date, the commit, the CPUs, the memory,
    Python, SQLite, the load at the start, and the version of each library named (those the
    benchmark compares: ``"duckdb"``, ``"uvicorn"``...)."""
    versions = {}
    for name in libraries:
        module = importlib.import_module(name)
        versions[name] = str(getattr(module, "__version__", "unknown"))
    return {
        "date": date.today().isoformat(),
        "commit": git_commit(),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_at_start": load_average(),
        **versions,
    }
