"""Acknowledged means durable: a real ``xinyong serve`` killed under load loses nothing.

Each configuration (SQLite and PostgreSQL, one and two worker processes, with and without helper
processes) is crashed :data:`TRIALS` times with CLI commands running beside it; the kinds of
kill (the main process, one helper process at random, the whole process group) take turns
across configurations, so that each kind meets each backend. ``tests/support/durability.py`` says
what each trial proves. ``XINYONG_DURABILITY_TRIALS`` runs more trials, ``XINYONG_DURABILITY_SEED``
repeats a seed and ``XINYONG_DURABILITY_LOAD_SECONDS`` loads longer before each kill (the figures
in docs/service.md come from such a run).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.durability import KILL_KINDS, Durability
from tests.support.postgres import reset_pg

pytestmark = [pytest.mark.slow, pytest.mark.durability]

TRIALS = int(os.environ.get("XINYONG_DURABILITY_TRIALS", "2"))
SEED = int(os.environ.get("XINYONG_DURABILITY_SEED", str(random.randrange(10**6))))

CONFIGURATIONS = [
    pytest.param("sqlite", 1, True, 0, id="sqlite-1-helpers"),
    pytest.param("sqlite", 2, True, 1, id="sqlite-2-helpers"),
    pytest.param("sqlite", 1, False, 2, id="sqlite-1-in-process"),
    pytest.param("postgresql", 1, True, 1, id="postgresql-1-helpers", marks=pytest.mark.postgres),
    pytest.param("postgresql", 2, True, 2, id="postgresql-2-helpers", marks=pytest.mark.postgres),
]
"""(backend, worker processes, helper processes, first kind of kill): with helpers, records are
appended by the submission worker (the default); without, by the service's own process
(``ingest_process = false``). The inquiry log is written by each web worker's process."""


@pytest.mark.parametrize(("backend", "workers", "helpers", "first"), CONFIGURATIONS)
def test_nothing_acknowledged_is_lost(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    backend: str,
    workers: int,
    helpers: bool,
    first: int,
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("pg_server_url")
        reset_pg(url)
    seed = SEED + 10 * first + workers
    run = Durability(url, tmp_path, workers, seed)
    run.prepare(helpers=helpers)
    _crash(run, [KILL_KINDS[(first + n) % len(KILL_KINDS)] for n in range(TRIALS)])
    assert sum(t["records_acknowledged"] for t in run.trials) > 0
    assert sum(t["checks_acknowledged"] for t in run.trials) > 0
    assert sum(t["adverse_acknowledged"] for t in run.trials) > 0, "no adverse answer"
    assert run.ack.reviews, "no request for review was acknowledged"
    assert sum(t["lost"] for t in run.trials) == 0


def test_nothing_acknowledged_is_lost_across_inquiry_checkpoints(tmp_path: Path) -> None:
    """SQLite, with the inquiry log's write-ahead log checkpointed every 50 ms instead of 10 s:
    its pauses, during which checks are answered from the spill file and committed after, then
    take a large share of every load, and the kills (of every kind, in turn) land in and around
    them. Each kill (of the process that writes the log, or of the whole group) waits for a
    moment when the spill file holds checks already answered. Nothing acknowledged may be lost:
    the next start imports the file."""
    run = Durability(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, 1, SEED + 7)
    run.prepare(settings="inquiry_checkpoint_seconds = 0.05\n")

    def spilled() -> bool:
        return any(path.stat().st_size > 0 for path in tmp_path.glob("*.spill"))

    _crash(run, ["main", "group", "main"], until=spilled)
    assert any(t["until_met"] for t in run.trials), "no kill found checks in the spill file"
    assert sum(t["checks_acknowledged"] for t in run.trials) > 0
    assert sum(t["lost"] for t in run.trials) == 0


def _crash(run: Durability, kinds: list[str], until: Callable[[], bool] | None = None) -> None:
    """Start the service and run a trial with each kind of kill in turn (at a moment when
    ``until()`` holds, if given); a failed trial names the seed, the trials so far and the
    service's log."""
    run.start()
    try:
        for kind in kinds:
            print(f"seed {run.seed}: {run.trial(kind, until)}")
    except AssertionError as exc:
        raise AssertionError(
            f"seed {run.seed}, trials {run.trials}: {exc}\n{run.log_tail()}"
        ) from exc
    finally:
        run.stop()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_service_killed_while_it_starts_leaves_nothing_behind(
    tmp_path: Path, workers: int
) -> None:
    run = Durability(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, workers, SEED + workers)
    run.prepare()
    for _ in range(TRIALS + 1):
        print(f"seed {SEED + workers}: {run.kill_while_starting()}")
