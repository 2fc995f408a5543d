"""Background work runs in ``xinyong worker`` processes: once per deployment, not once per web
worker, and never outliving the ``xinyong serve`` that started one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from tests.support.ledgers import new_ledger
from tests.support.overridden import override_args
from tests.support.service_fixtures import SCHEME
from tests.support.serving import free_port, ready, start_serve, wait_until

pytestmark = pytest.mark.slow


def _run(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "xinyong", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _ledger(tmp_path: Path) -> tuple[dict[str, str], Path]:
    db = tmp_path / "ledger.db"
    env = {**os.environ, "XINYONG_DATABASE_URL": new_ledger(f"sqlite:///{db}")}
    _run(env, "scheme", "add", str(SCHEME), *override_args(SCHEME))
    return env, db


def _runs_today(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        found = conn.execute(
            "SELECT count(*) FROM standing_runs WHERE as_of = ?", (date.today().isoformat(),)
        ).fetchone()
    return int(found[0])


def _workers_of(url: str) -> list[int]:
    """The ``xinyong worker`` processes of this ledger, whoever their parent."""
    marker = f"XINYONG_DATABASE_URL={url}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in environ and b"worker" in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_worker_once_stores_the_days_standings_once(tmp_path: Path) -> None:
    env, db = _ledger(tmp_path)
    first = _run(env, "worker", "--once")
    assert "standings refreshed: {" in first
    assert _runs_today(db) == 1
    second = _run(env, "worker", "--once")  # already stored at this ledger size
    assert "standings refreshed: no" in second
    assert _runs_today(db) == 1


def test_serve_runs_one_worker_that_ends_with_it(tmp_path: Path) -> None:
    env, db = _ledger(tmp_path)
    port = free_port()
    server = start_serve(env, port, "--workers", "2")
    try:
        wait_until(
            server, lambda: ready(port) and _runs_today(db) > 0, "a worker stores the standings"
        )
        workers = _workers_of(env["XINYONG_DATABASE_URL"])
        assert len(workers) == 1, workers  # one for the deployment, not one per web worker
        os.kill(workers[0], signal.SIGKILL)  # serve starts another
        wait_until(
            server,
            lambda: (
                len(_workers_of(env["XINYONG_DATABASE_URL"])) == 1
                and _workers_of(env["XINYONG_DATABASE_URL"]) != workers
            ),
            "a new worker",
            seconds=30,
        )
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        gone_by = time.monotonic() + 2.0
        while _workers_of(env["XINYONG_DATABASE_URL"]) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert not _workers_of(env["XINYONG_DATABASE_URL"]), "the worker outlived serve"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
