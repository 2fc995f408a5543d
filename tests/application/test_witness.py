"""The witness: it accepts a log that only grows, and refuses a rollback, a fork (a rewritten
history) and a checkpoint signed with another key, keeping the evidence."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.service_fixtures import DEFAULT, OTHER, PERSON, Service, make_service
from tests.support.serving import serve_app
from xinyong.application.settings import ServiceSettings
from xinyong.application.witness import Refused, witness_once
from xinyong.ledger.database import open_database
from xinyong.server.app import create_app


def _submit(service: Service, *records: dict[str, Any]) -> None:
    with serve_app(service.app) as url, httpx.Client(base_url=url) as client:
        sent = client.post(
            "/v1/records", headers=service.headers("source"), json={"records": list(records)}
        )
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == len(records)


def _witness(app: FastAPI, state: Path) -> Any:
    """One run of the witness against ``app`` served over real HTTP."""
    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        return witness_once(client, state)


def _record(n: int, subject: str = PERSON) -> dict[str, Any]:
    return {**DEFAULT, "record_id": f"w{n}", "subject_id": subject, "case_id": f"c{n}"}


def _snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite ledger (the backup API), with its key."""
    target.parent.mkdir(parents=True)
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    shutil.copy2(f"{source}.key", f"{target}.key")


def _app(path: Path, **settings: Any) -> FastAPI:
    return create_app(open_database(f"sqlite:///{path}"), settings=ServiceSettings(**settings))


def test_the_witness_accepts_growth_and_refuses_rollback_fork_and_another_key(
    tmp_path: Path,
) -> None:
    state = tmp_path / "witness"
    ledger = tmp_path / "a" / "ledger.db"
    ledger.parent.mkdir()
    service = make_service(f"sqlite:///{ledger}")
    _submit(service, _record(1))
    first = _witness(service.app, state)
    assert (first.previous, first.learned_key) == (None, True)
    _snapshot(ledger, tmp_path / "old" / "ledger.db")  # the log as the witness first saw it
    _submit(service, _record(2), _record(3, OTHER))
    grown = _witness(service.app, state)
    assert (grown.previous, grown.learned_key) == (first.size, False)
    assert grown.size > first.size
    assert _witness(service.app, state).size == grown.size  # nothing new
    accepted = (state / "checkpoints.jsonl").read_text().splitlines()
    assert len(accepted) == 2

    # rollback: the service serves the older copy of its ledger, signed with its own key
    with pytest.raises(Refused, match="rollback: the log shrank") as rolled:
        _witness(_app(tmp_path / "old" / "ledger.db"), state)
    assert rolled.value.evidence is not None
    assert {p.name for p in rolled.value.evidence.iterdir()} == {
        "reason.txt",
        "accepted.txt",
        "served.txt",
    }

    # fork: another history, as long or longer, signed with the same key
    forked = tmp_path / "fork" / "ledger.db"
    forked.parent.mkdir()
    other = make_service(f"sqlite:///{forked}")
    shutil.copy2(f"{ledger}.key", f"{forked}.key")
    _submit(other, *[_record(10 + n, OTHER) for n in range(4)])
    with pytest.raises(Refused, match="fork: the checkpoint of") as fork:
        _witness(other.app, state)
    assert fork.value.evidence is not None
    assert (fork.value.evidence / "proof.txt").exists()

    # another key: the same ledger served with a key that is not the one the witness trusts
    with pytest.raises(Refused, match="bad signature"):
        _witness(_app(ledger, signing_key=str(tmp_path / "stolen.key")), state)

    # none of the refused checkpoints was recorded
    assert (state / "checkpoints.jsonl").read_text().splitlines() == accepted
    service.engine.dispose()
    other.engine.dispose()


def test_a_run_killed_while_appending_leaves_nothing_accepted_half(tmp_path: Path) -> None:
    state = tmp_path / "witness"
    ledger = tmp_path / "ledger.db"
    service = make_service(f"sqlite:///{ledger}")
    _submit(service, _record(1))
    first = _witness(service.app, state)
    log = state / "checkpoints.jsonl"
    accepted = log.read_text()
    log.write_text(accepted + '{"accepted_at": "2026-')  # a partial line, as a kill leaves it
    _submit(service, _record(2))
    grown = _witness(service.app, state)
    assert grown.previous == first.size
    lines = log.read_text().splitlines()
    assert lines[0] == accepted.strip()
    assert len(lines) == 2
    service.engine.dispose()
