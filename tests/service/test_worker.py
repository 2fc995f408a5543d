"""Background work runs in ``xinyong worker`` processes: once per deployment, not once per web
worker, and never outliving the ``xinyong serve`` that started one."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from tests.support.ledgers import new_ledger
from tests.support.overridden import override_args
from tests.support.postgres import reset_pg
from tests.support.service_fixtures import SCHEME, webhook_server
from tests.support.serving import free_port, ready, start_serve, stop_serve, wait_until
from xinyong import worker
from xinyong.decisions.relying import register_relying_party
from xinyong.due_process.outbox import queue_message
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import outbox

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


@pytest.mark.postgres
def test_a_worker_killed_mid_delivery_loses_no_message(pg_server_url: str, tmp_path: Path) -> None:
    """Three deliverers on PostgreSQL (``serve``'s worker and two ``xinyong worker``s) against
    a slow webhook; one is killed with SIGKILL while it sends. Every queued message still
    arrives, the one it held once its claim lapses, and nothing else arrives twice."""
    reset_pg(pg_server_url)
    new_ledger(pg_server_url)
    settings = tmp_path / "settings.toml"
    settings.write_text("webhook_claim_seconds = 11\ndaily_refresh = false\n")
    env = {**os.environ, "XINYONG_DATABASE_URL": pg_server_url}
    engine = open_database(pg_server_url)
    hook = ExitStack()
    webhook = hook.enter_context(contextmanager(webhook_server)(delay=0.25))
    extra: list[subprocess.Popen[bytes]] = []
    server: subprocess.Popen[bytes] | None = None
    try:
        with engine.begin() as conn:
            register_relying_party(conn, "bank", ["no-loans"], "lending", webhook.url)
            queued = {queue_message(conn, "relying", "bank", f"D{n}", {"n": n}) for n in range(24)}
        port = free_port()
        server = start_serve(env, port, "--settings", str(settings))
        extra = [
            subprocess.Popen(
                [sys.executable, "-m", "xinyong", "worker", "--settings", str(settings)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        wait_until(server, lambda: len(webhook.raw) >= 4, "the first deliveries")
        extra[0].kill()  # SIGKILL, most likely during a send (each takes 0.25 s)
        extra[0].wait(10)
        wait_until(server, lambda: _undelivered(engine) == 0, "every message delivered", 60)
        sent = Counter(headers["webhook-id"] for _, _, headers in webhook.raw)
        assert set(sent) == queued
        assert sum(sent.values()) - len(queued) <= 1, sent  # the killed worker's message only
    finally:
        for process in extra:
            process.kill()
            process.wait(10)
        if server is not None:
            stop_serve(server)
        hook.close()
        engine.dispose()


def _undelivered(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
            ).scalar_one()
        )


def test_a_send_is_given_up_whole_however_slowly_the_webhook_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A webhook that drips its answer a byte at a time never lets a read time out; the send
    is given up after SEND_SECONDS all the same, so that a claim outlasts it."""
    monkeypatch.setattr(worker, "SEND_SECONDS", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                if stop.wait(0.1):
                    return
                conn.sendall(bytes([byte]))

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            worker.post_json(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", b"{}", {})
        assert time.monotonic() - started < 2.0
    finally:
        stop.set()
        listener.close()
        thread.join(5)
