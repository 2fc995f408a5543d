"""Start-up benchmark: whole ``xinyong`` processes that should answer at once.

``xinyong --version``, ``xinyong --help`` and ``xinyong id check ID``, each run as a new process
(as a shell runs them), against the floor of any Python command line: ``python -c pass`` in the
same interpreter. Runs alternate between the commands so that a noisy moment of the machine is
shared; the medians are reported, with each command's ratio to the floor.

    python bench/startup.py --runs 21 --json

Goal (issue 21): at most 0.3 s each, whole process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchkit import machine, median, timed

XINYONG = shutil.which("xinyong", path=str(Path(sys.executable).parent)) or "xinyong"
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "xinyong --version": [XINYONG, "--version"],
    "xinyong --help": [XINYONG, "--help"],
    "xinyong id check": [XINYONG, "id", "check", "110101199003074477"],
}
GOAL_SECONDS = 0.3


def _once(argv: list[str]) -> float:
    seconds, _ = timed(
        lambda: subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
    )
    return seconds


def measure(runs: int) -> dict[str, object]:
    """Median seconds per command over ``runs`` alternating rounds (one warm-up round)."""
    for argv in COMMANDS.values():
        _once(argv)  # the page cache, as after any first run
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            times[name].append(_once(argv))
    floor = median(times["python -c pass"])
    medians = {name: median(values) for name, values in times.items()}
    return {
        "runs": runs,
        "machine": machine(),
        "median_seconds": {name: round(value, 4) for name, value in medians.items()},
        "ratio_to_python": {name: round(value / floor, 2) for name, value in medians.items()},
        "goal_seconds": GOAL_SECONDS,
        "met": all(medians[name] <= GOAL_SECONDS for name in COMMANDS if name.startswith("x")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="alternating rounds")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, seconds in result["median_seconds"].items():  # type: ignore[attr-defined]
        ratio = result["ratio_to_python"][name]  # type: ignore[index]
        print(f"{name:22} {seconds * 1000:8.1f} ms  {ratio:6.2f}x python -c pass")


if __name__ == "__main__":
    main()
