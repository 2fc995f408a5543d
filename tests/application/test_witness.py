"""The witness: it accepts a log that only grows, and refuses a rollback, a fork (a rewritten
history) and a checkpoint signed with another key, keeping the evidence."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support import rfc6962
from tests.support.service_fixtures import DEFAULT, OTHER, PERSON, Service, make_service
from tests.support.serving import serve_app
from xinyong.application.keys import Role, create_key
from xinyong.application.settings import ServiceSettings
from xinyong.application.witness import LEDGER_LOG, Refused, witness_once
from xinyong.ledger.cosigning import cosign, cosigner_key
from xinyong.ledger.database import open_database
from xinyong.ledger.signed_head import ledger_key
from xinyong.ledger.signing import load_or_create_key
from xinyong.server.app import create_app

OPERATIONS_LOG = f"{LEDGER_LOG}/operations"


def _submit(service: Service, *records: dict[str, Any]) -> None:
    with serve_app(service.app) as url, httpx.Client(base_url=url) as client:
        sent = client.post(
            "/v1/records", headers=service.headers("source"), json={"records": list(records)}
        )
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == len(records)


def _witness(app: FastAPI, state: Path, log: str = LEDGER_LOG) -> Any:
    """One run of the witness against ``app`` served over real HTTP."""
    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        return witness_once(client, state, log=log)


def service_key(ledger: Path) -> str:
    """The ledger's verifier key."""
    engine = open_database(f"sqlite:///{ledger}")
    try:
        with engine.connect() as conn:
            return ledger_key(conn).verifier_key
    finally:
        engine.dispose()


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


def test_the_witness_keeps_the_operations_log_from_rolling_back_or_forking(
    tmp_path: Path,
) -> None:
    """A rollback of the operations log with its checkpoints (a revoked key's change removed,
    which ``ledger verify`` alone cannot see once the row is put back too) and a rewritten
    history are refused, as for the main tree."""
    state = tmp_path / "operations-witness"
    service = make_service(f"sqlite:///{tmp_path / 'ledger.db'}")
    first = _witness(service.app, state, OPERATIONS_LOG)
    assert first.size > 0  # the service's keys, relying party and scheme
    with service.engine.begin() as conn:
        key = create_key(conn, Role.SOURCE, "court-2")
    grown = _witness(service.app, state, OPERATIONS_LOG)
    assert (grown.previous, grown.size) == (first.size, first.size + 1)

    with service.engine.begin() as conn:  # the key and every trace of it, removed
        conn.exec_driver_sql(f"DELETE FROM operations WHERE position >= {first.size}")
        conn.exec_driver_sql(f"DELETE FROM operation_checkpoints WHERE size > {first.size}")
        conn.exec_driver_sql(f"DELETE FROM api_keys WHERE key_id = '{key.key_id}'")
    with pytest.raises(Refused, match="rollback: the log shrank"):
        _witness(service.app, state, OPERATIONS_LOG)

    with service.engine.begin() as conn:  # another history of the same length
        create_key(conn, Role.SOURCE, "court-3")
    with pytest.raises(Refused, match="fork: the checkpoint of"):
        _witness(service.app, state, OPERATIONS_LOG)
    service.engine.dispose()


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


def _refusals(client: httpx.Client, served: str, seen: Any, stranger: Any) -> None:
    """A witness the log does not name, a forged line, a checkpoint it does not hold: 422."""
    text, _, lines = served.rstrip("\n").rpartition("\n\n")
    plain = f"{text}\n\n{lines.split(chr(10))[0]}\n"  # the log's own signature only
    theirs = cosign(stranger, plain, text + "\n", int(time.time()))
    refused = client.post("/v1/ledger/cosignatures", content=theirs.encode())
    assert refused.status_code == 422, refused.text
    assert "no valid cosignature by a witness this ledger knows" in refused.text
    assert seen.cosigned is not None
    forged = seen.cosigned.replace(seen.cosigned.split(" ")[-1][:8], "AAAAAAAA")
    refused = client.post("/v1/ledger/cosignatures", content=forged.encode())
    assert refused.status_code == 422, refused.text
    moved = seen.cosigned.replace(f"\n{seen.size}\n", f"\n{seen.size + 1}\n", 1)
    refused = client.post("/v1/ledger/cosignatures", content=moved.encode())
    assert refused.status_code == 422, refused.text


def test_a_witness_cosigns_what_it_accepts_and_the_log_publishes_it(tmp_path: Path) -> None:
    """C2SP tlog-cosignature: the witness signs the checkpoints it accepted, the log takes
    cosignatures from the witnesses it names only, and serves them with the checkpoint; an
    independent verifier (tests/support/rfc6962.py) checks them."""
    ledger = tmp_path / "ledger.db"
    service = make_service(f"sqlite:///{ledger}")
    _submit(service, _record(1))
    witness = load_or_create_key(tmp_path / "w1.key", "witness.example/w1")
    stranger = load_or_create_key(tmp_path / "w2.key", "witness.example/w2")
    app = _app(ledger, witnesses=[cosigner_key(witness)])
    state = tmp_path / "witness"
    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        seen = witness_once(client, state, cosigner=witness, submit=True)
        assert seen.submitted is not None
        assert seen.submitted.startswith("200 "), seen.submitted
        served = client.get("/v1/ledger/checkpoint/cosigned").text
        again = client.get("/v1/ledger/checkpoint", params={"size": seen.size}).text
        assert served == again
        # the witness still accepts the log's checkpoint with cosignatures on it
        assert witness_once(client, state).size == seen.size
        _refusals(client, served, seen, stranger)
        # a later run refreshes the witness's cosignature: one line of its own, newer
        time.sleep(1.1)
        later = witness_once(client, state, cosigner=witness, submit=True)
        assert later.submitted is not None
        assert later.submitted.startswith("200 "), later.submitted
        assert later.cosigned is not None
        assert later.cosigned.count(f"\u2014 {witness.name} ") == 1
        refreshed = client.get("/v1/ledger/checkpoint", params={"size": seen.size}).text
        # too large, or too many signature lines: refused before any signature is checked
        huge = client.post("/v1/ledger/cosignatures", content=b"x" * (65 * 1024))
        assert huge.status_code == 413
        many = later.cosigned + "".join(f"\u2014 w{i} AAAA\n" for i in range(100))
        refused = client.post("/v1/ledger/cosignatures", content=many.encode())
        assert refused.status_code == 422
        assert "at most 100 signature lines" in refused.text
    assert rfc6962.open_cosignature(refreshed, witness.name, witness.public) > (
        rfc6962.open_cosignature(served, witness.name, witness.public)
    )
    # a witness the log no longer names is no longer published
    with serve_app(_app(ledger)) as url, httpx.Client(base_url=url) as client:
        plain = client.get("/v1/ledger/checkpoint", params={"size": seen.size}).text
        assert witness.name not in plain
        assert client.get("/v1/ledger/checkpoint/cosigned").status_code == 404
    assert (state / "cosigned.txt").read_text(encoding="utf-8") == later.cosigned
    when = rfc6962.open_cosignature(served, witness.name, witness.public)
    assert abs(when - time.time()) < 600
    _, size, _ = rfc6962.open_checkpoint(served, service_key(ledger))
    assert size == seen.size
    with pytest.raises(AssertionError, match="no cosignature"):
        rfc6962.open_cosignature(served, stranger.name, stranger.public)
