"""Cosignatures a live ``xinyong serve`` acknowledged survive ``kill -9``: the witness CLI
cosigns and submits, records arrive, serve is killed at a random moment and started again, and
every cosignature it answered 200 to is published with its checkpoint."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support import rfc6962
from tests.support.service_fixtures import DEFAULT, make_service
from tests.support.serving import free_port, ready, start_serve, stop_serve, wait_until
from xinyong.ledger.cosigning import cosigner_key
from xinyong.ledger.signing import load_or_create_key

pytestmark = [pytest.mark.slow, pytest.mark.durability]

ROUNDS = 3
SENT = re.compile(r'cosignature sent: 200 \{"size":(\d+)')


def _witness(env: dict[str, str], url: str, state: Path, key: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "xinyong", "ledger", "witness", url, "--state", str(state)]
        + ["--cosign", str(key), "--name", "witness.test/w1", "--submit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout


def test_acknowledged_cosignatures_survive_kill_9(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    url = f"sqlite:///{ledger}"
    service = make_service(url)
    source = service.headers("source")
    service.engine.dispose()
    witness_key = tmp_path / "w1.key"
    witness = load_or_create_key(witness_key, "witness.test/w1")
    settings = tmp_path / "settings.toml"
    settings.write_text(f'witnesses = ["{cosigner_key(witness)}"]\n', encoding="utf-8")
    env = {**os.environ, "XINYONG_DATABASE_URL": url}
    acknowledged: set[int] = set()
    rng = random.Random(20261203)
    state = tmp_path / "witness"
    sent = 0
    for _ in range(ROUNDS):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_serve(env, port, "--settings", str(settings))
        wait_until(server, lambda port=port: ready(port), "serve ready", 120)
        stop = threading.Event()

        def records(base: str = base, stop: threading.Event = stop) -> None:
            nonlocal sent
            while not stop.is_set():
                sent += 1
                one = {**DEFAULT, "record_id": f"k{sent}", "case_id": f"c{sent}"}
                try:
                    httpx.post(
                        f"{base}/v1/records", headers=source, json={"records": [one]}, timeout=10
                    )
                except httpx.HTTPError:
                    return
                time.sleep(0.05)

        feeder = threading.Thread(target=records, daemon=True)
        feeder.start()
        deadline = time.monotonic() + rng.uniform(3, 8)
        while time.monotonic() < deadline:
            acknowledged |= {int(n) for n in SENT.findall(_witness(env, base, state, witness_key))}
        killer = threading.Timer(rng.uniform(0, 0.5), os.kill, (server.pid, signal.SIGKILL))
        killer.start()
        acknowledged |= {int(n) for n in SENT.findall(_witness(env, base, state, witness_key))}
        killer.join()
        server.wait(60)
        stop.set()
        feeder.join(30)
    assert acknowledged, "no cosignature was acknowledged"
    port = free_port()
    server = start_serve(env, port, "--settings", str(settings))
    try:
        wait_until(server, lambda: ready(port), "serve ready", 120)
        for size in sorted(acknowledged):
            note = httpx.get(
                f"http://127.0.0.1:{port}/v1/ledger/checkpoint", params={"size": size}
            ).text
            rfc6962.open_cosignature(note, witness.name, witness.public)
    finally:
        stop_serve(server)
