"""One test against a real ``xinyong serve`` process over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.ledgers import new_ledger
from tests.support.overridden import override_args
from tests.support.service_fixtures import OTHER, PERSON, SCHEME
from tests.support.serving import STOP_SECONDS, free_port

pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "xinyong", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_a_check_over_http(tmp_path: Path, workers: int) -> None:
    env = {**os.environ, "XINYONG_DATABASE_URL": new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")}
    records = tmp_path / "records.csv"
    records.write_text(
        "record_id,subject_id,subject_kind,code,occurred_at,source,case_id,attrs,evidence\n"
        f"d1,{PERSON},person,finance.contract_default,{date.today() - timedelta(days=30)},bank,k1,"
        '"{""amount"": 20000, ""channel"": ""branch""}",\n',
        encoding="utf-8",
    )
    _cli(env, "ingest", str(records))
    _cli(env, "scheme", "add", str(SCHEME), *override_args(SCHEME))
    _cli(env, "relying", "add", "airline", "--measure", "restrict-flights", "--purpose", "tickets")
    token = _cli(env, "keys", "create", "--role", "relying", "--name", "airline")
    source = _cli(env, "keys", "create", "--role", "source", "--name", "bank")
    settings = tmp_path / "service.toml"
    # One worker: a burst of 3, to see the limit. Two: the limit is divided between them (no
    # redis_url), so give each room for the checks below, wherever they land.
    burst = 3 if workers == 1 else 20
    settings.write_text(f"rate_per_second = 0.001\nburst = {burst}\n", encoding="utf-8")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xinyong",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--settings",
            str(settings),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # slow to start beside the other test worker
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        answer = httpx.get(
            f"{base}/v1/checks",
            headers=headers,
            params={"subject": PERSON, "measure": "restrict-flights"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["applies"] is True
        assert (
            httpx.get(
                f"{base}/v1/checks", params={"subject": PERSON, "measure": "restrict-flights"}
            ).status_code
            == 401
        )
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"]
        # records are appended by the submission process; a check sees them at once
        other = {
            "record_id": "d2",
            "subject_id": OTHER,
            "subject_kind": "person",
            "code": "court.defaulter",
            "occurred_at": str(date.today() - timedelta(days=3)),
        }
        submitted = httpx.post(
            f"{base}/v1/records",
            headers={"Authorization": f"Bearer {source}"},
            json={"records": [other]},
            timeout=60,
        )
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["accepted"] == 1
        check = httpx.get(
            f"{base}/v1/checks",
            headers=headers,
            params={"subject": OTHER, "measure": "restrict-flights"},
        )
        assert check.json()["applies"] is True
        if workers == 1:  # the settings file applies: a burst of 3, then the limit
            params = {"subject": PERSON, "measure": "restrict-flights"}
            assert httpx.get(f"{base}/v1/checks", headers=headers, params=params).status_code == 200
            limited = httpx.get(f"{base}/v1/checks", headers=headers, params=params)
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=STOP_SECONDS)
    assert token not in output  # keys never reach the logs


def test_serve_refuses_a_bad_settings_file(tmp_path: Path) -> None:
    env = {**os.environ, "XINYONG_DATABASE_URL": new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")}
    settings = tmp_path / "service.toml"
    settings.write_text("grace_days = -1\nbogus = 1\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "xinyong", "serve", "--settings", str(settings)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "service.toml" in result.stderr
    assert "grace_days" in result.stderr


def test_serve_refuses_a_bad_settings_variable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XINYONG_DATABASE_URL": new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}"),
        "XINYONG_BURST": "many",
    }
    result = subprocess.run(
        [sys.executable, "-m", "xinyong", "serve"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "XINYONG_BURST: burst" in result.stderr
