"""The ledger as a transparency log over HTTP: the signed checkpoint and its key (public), and
proofs that an independent verifier (tests/support/rfc6962.py) accepts against it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.support import rfc6962
from tests.support.service_fixtures import DEFAULT, OTHER, PERSON, Service
from xinyong.cli.app import app
from xinyong.ledger.signed_head import default_key_path
from xinyong.ledger.signing import load_or_create_key

pytestmark = pytest.mark.anyio


async def _submit(client: httpx.AsyncClient, service: Service, *records: dict[str, Any]) -> None:
    sent = await client.post(
        "/v1/records", headers=service.headers("source"), json={"records": list(records)}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == len(records)


async def _checkpoint(client: httpx.AsyncClient, key: str, size: int | None = None) -> Any:
    params = {} if size is None else {"size": size}
    note = await client.get("/v1/ledger/checkpoint", params=params)  # public: no key
    assert note.status_code == 200, note.text
    assert note.headers["content-type"].startswith("text/plain")
    return rfc6962.open_checkpoint(note.text, key)


async def test_served_proofs_verify_against_the_served_checkpoint(service: Service) -> None:
    async with service.client() as client:
        key = (await client.get("/v1/ledger/public-key")).text
        await _submit(client, service, DEFAULT)
        origin, first, first_root = await _checkpoint(client, key)
        assert origin == key.split("+")[0]
        other = {**DEFAULT, "record_id": "d2", "subject_id": OTHER, "case_id": "loan-2"}
        await _submit(client, service, other)
        _, second, second_root = await _checkpoint(client, key)
        assert second > first
        # an earlier checkpoint is served as it was signed
        assert await _checkpoint(client, key, first) == (origin, first, first_root)

        consistency = await client.get(
            "/v1/ledger/proof/consistency", params={"first": first, "second": second}
        )
        assert consistency.status_code == 200, consistency.text
        path = [bytes.fromhex(h) for h in consistency.json()["proof"]]
        assert rfc6962.verify_consistency(first, second, first_root, second_root, path)

        # the record's entry: the operator may see any entry's proof, the subject their own
        found = await client.get(
            "/v1/ledger/proof/inclusion",
            params={"index": first - 1, "size": second},
            headers=service.headers("operator"),
        )
        assert found.status_code == 200, found.text
        proof = found.json()
        leaf, nodes = bytes.fromhex(proof["leaf_hash"]), [bytes.fromhex(h) for h in proof["proof"]]
        assert rfc6962.verify_inclusion(leaf, first - 1, second, nodes, second_root)
        mine = await client.get(
            "/v1/ledger/proof/inclusion",
            params={"index": first - 1},
            headers=service.headers("subject"),
        )
        assert mine.status_code == 200, mine.text
        assert mine.json()["leaf_hash"] == proof["leaf_hash"]
        # another subject may not learn it (its leaf hash could confirm a guessed record)
        theirs = await client.get(
            "/v1/ledger/proof/inclusion",
            params={"index": first - 1},
            headers=service.headers("other-subject"),
        )
        assert theirs.status_code == 404
        # the airline, only once it has received a decision about the subject
        params = {"index": first - 1}
        relying = service.headers("relying")
        before = await client.get("/v1/ledger/proof/inclusion", params=params, headers=relying)
        assert before.status_code == 404
        check = await client.get(
            "/v1/checks",
            params={"subject": PERSON, "measure": "restrict-flights"},
            headers=relying,
        )
        assert check.status_code == 200, check.text
        after = await client.get("/v1/ledger/proof/inclusion", params=params, headers=relying)
        assert after.status_code == 200, after.text
        # no key: no inclusion proof
        anonymous = await client.get("/v1/ledger/proof/inclusion", params=params)
        assert anonymous.status_code == 401


async def test_proof_requests_outside_the_ledger_are_refused(service: Service) -> None:
    async with service.client() as client:
        await _submit(client, service, DEFAULT)
        operator = service.headers("operator")
        for path, params in (
            ("/v1/ledger/proof/consistency", {"first": 3, "second": 2}),
            ("/v1/ledger/proof/consistency", {"first": 1, "second": 10**9}),
            ("/v1/ledger/proof/inclusion", {"index": 10**9}),
            ("/v1/ledger/proof/inclusion", {"index": 0, "size": 10**9}),
        ):
            refused = await client.get(path, params=params, headers=operator)
            assert refused.status_code in (404, 422), (path, params, refused.text)
        for params in ({"first": 0, "second": 1}, {"first": "x", "second": 1}):
            refused = await client.get("/v1/ledger/proof/consistency", params=params)
            assert refused.status_code == 422
        missing = await client.get("/v1/ledger/checkpoint", params={"size": 10**9})
        assert missing.status_code == 404


async def test_every_answer_carries_a_receipt_anyone_can_check_offline(
    service: Service, tmp_path: Path
) -> None:
    async with service.client() as client:
        key = (await client.get("/v1/ledger/public-key")).text
        await _submit(client, service, DEFAULT)
        answer = await client.get(
            "/v1/checks",
            params={"subject": PERSON, "measure": "restrict-flights"},
            headers=service.headers("relying"),
        )
        assert answer.status_code == 200, answer.text
        given = answer.json()
        replayed = await client.get(
            f"/v1/decisions/{given['decision_id']}", headers=service.headers("operator")
        )
        checkpoint = await client.get("/v1/ledger/checkpoint")
        # a "no" rests on nothing: its receipt names no grounds
        other = await client.get(
            "/v1/checks",
            params={"subject": OTHER, "measure": "restrict-flights"},
            headers=service.headers("relying"),
        )
        assert other.json()["applies"] is False
        assert "grounds" not in rfc6962.open_note(other.json()["receipt"], key)
    # checked by the independent verifier: the statement, and the checkpoint it names
    header, statement, _ = rfc6962.open_note(given["receipt"], key).split("\n")
    assert header == "xinyong-receipt/v1"
    stated = json.loads(statement)
    assert {k: stated[k] for k in ("decision_id", "measure", "applies", "scheme", "version")} == {
        k: given[k] for k in ("decision_id", "measure", "applies", "scheme", "version")
    }
    assert (stated["subject"], stated["relying_party"], stated["purpose"]) == (
        PERSON,
        "airline",
        "ticket sales",
    )
    _, size, root = rfc6962.open_checkpoint(checkpoint.text, key)
    assert stated["checkpoint"] == {"size": size, "root": root.hex()}
    # the answer is adverse: the receipt proves the entry it rests on, the bank's record
    ground_leaf = _record_leaf(service, "bank", "d1")
    [ground] = stated["grounds"]
    assert ground["leaf_hash"] == ground_leaf.hex()
    assert ground["index"] == size - 1
    path = [bytes.fromhex(h) for h in ground["proof"]]
    assert rfc6962.verify_inclusion(ground_leaf, ground["index"], size, path, root)
    # the replay gives the same receipt, byte for byte
    assert replayed.json()["receipt"] == given["receipt"]
    # offline: `xinyong verify receipt`, with nothing but the receipt and the key
    (tmp_path / "ledger.pub").write_text(key, encoding="utf-8")
    (tmp_path / "receipt.txt").write_text(given["receipt"], encoding="utf-8")
    verify = ["verify", "receipt", str(tmp_path / "receipt.txt"), "--key"]
    ok = CliRunner().invoke(app, [*verify, str(tmp_path / "ledger.pub")])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["applies"] is True
    altered = given["receipt"].replace('"applies":true', '"applies":false')
    (tmp_path / "receipt.txt").write_text(altered, encoding="utf-8")
    refused = CliRunner().invoke(app, [*verify, str(tmp_path / "ledger.pub")])
    assert refused.exit_code == 1
    assert "INVALID: the signature of" in refused.output
    stranger = load_or_create_key(tmp_path / "stranger.key", key.split("+")[0])
    forged = stranger.sign(given["receipt"][: given["receipt"].index("\n\n") + 1])
    (tmp_path / "receipt.txt").write_text(forged, encoding="utf-8")
    refused = CliRunner().invoke(app, [*verify, str(tmp_path / "ledger.pub")])
    assert refused.exit_code == 1
    assert "INVALID: no signature by" in refused.output
    # signed by the ledger's own key, grounds that are not in the tree are still refused
    ledger_key = service.app.state.context.ledger_key()
    wrong = {**stated, "grounds": [{**ground, "leaf_hash": "00" * 32}]}
    text_line = json.dumps(wrong, sort_keys=True, separators=(",", ":"))
    (tmp_path / "receipt.txt").write_text(
        ledger_key.sign(f"xinyong-receipt/v1\n{text_line}\n"), encoding="utf-8"
    )
    refused = CliRunner().invoke(app, [*verify, str(tmp_path / "ledger.pub")])
    assert refused.exit_code == 1
    assert "INVALID: ground 0 (entry" in refused.output
    assert "is not in the checkpoint's tree" in refused.output


async def test_an_answer_that_cannot_be_signed_is_not_given_nor_logged(service: Service) -> None:
    # the key file is replaced by a symbolic link, which is never followed
    with service.engine.connect() as conn:
        path = default_key_path(conn)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.symlink_to(path.parent / "elsewhere.key")
    service.app.state.context.keys.clear()
    async with service.client() as client:
        answer = await client.get(
            "/v1/checks",
            params={"subject": PERSON, "measure": "restrict-flights"},
            headers=service.headers("relying"),
        )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    with service.engine.connect() as conn:
        logged = conn.exec_driver_sql("SELECT count(*) FROM inquiries").scalar()
    assert logged == 0


def _record_leaf(service: Service, source: str, record_id: str) -> bytes:
    """A record's leaf, encoded here from docs/verify.md, not by xinyong's code."""
    with service.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT position, source, record_id, subject_id, subject_kind, code, "
                "occurred_at, case_id, attrs, evidence, recorded_at FROM records "
                "WHERE source = :source AND record_id = :record_id"
            ),
            {"source": source, "record_id": record_id},
        ).one()
    data = json.dumps(
        ["xinyong-ledger/1", "record", *(str(v) if k == 6 else v for k, v in enumerate(row))],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    return hashlib.sha256(b"\x00" + data).digest()


def _operation_leaf(position: int, row: Any) -> bytes:
    """An operations-log leaf, encoded here from docs/verify.md, not by xinyong's code."""
    data = json.dumps(
        [
            "xinyong-ledger/1",
            "operation",
            position,
            row.tbl,
            row.row_key,
            row.state,
            row.recorded_at,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    return hashlib.sha256(b"\x00" + data).digest()


async def test_the_operations_log_has_its_own_signed_checkpoint(service: Service) -> None:
    async with service.client() as client:
        key = (await client.get("/v1/ledger/public-key")).text
        made = await client.post(
            "/v1/keys",
            headers=service.headers("operator"),
            json={"role": "source", "name": "court-2", "label": "a second court"},
        )
        assert made.status_code == 201, made.text
        note = await client.get("/v1/ledger/operations/checkpoint")  # public: no key
        assert note.status_code == 200, note.text
        operations_key = (await client.get("/v1/ledger/operations/public-key")).text
        origin, size, root = rfc6962.open_checkpoint(note.text, operations_key)
    # the ledger's key pair under the log's own name: the origin is the key's name
    assert origin == operations_key.split("+")[0] == key.split("+")[0] + "/operations"
    assert operations_key.split("+")[2] == key.split("+")[2]
    with service.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT position, tbl, row_key, state, recorded_at FROM operations ORDER BY position"
        ).all()
    assert [row.position for row in rows] == list(range(size))
    assert any(row.tbl == "api_keys" and "court-2" in row.state for row in rows)
    assert rfc6962.mth([_operation_leaf(row.position, row) for row in rows]) == root


async def test_operations_log_proofs_verify_against_its_checkpoint(service: Service) -> None:
    async with service.client() as client:
        key = (await client.get("/v1/ledger/operations/public-key")).text
        first_note = (await client.get("/v1/ledger/operations/checkpoint")).text
        _, first, first_root = rfc6962.open_checkpoint(first_note, key)
        operator = service.headers("operator")
        made = await client.post(
            "/v1/keys", headers=operator, json={"role": "source", "name": "court-2"}
        )
        assert made.status_code == 201, made.text
        second_note = (await client.get("/v1/ledger/operations/checkpoint")).text
        _, second, second_root = rfc6962.open_checkpoint(second_note, key)
        assert second == first + 1
        consistency = await client.get(  # public, for witnesses
            "/v1/ledger/operations/proof/consistency", params={"first": first, "second": second}
        )
        assert consistency.status_code == 200, consistency.text
        path = [bytes.fromhex(h) for h in consistency.json()["proof"]]
        assert rfc6962.verify_consistency(first, second, first_root, second_root, path)
        included = await client.get(
            "/v1/ledger/operations/proof/inclusion", params={"index": first}, headers=operator
        )
        assert included.status_code == 200, included.text
        proof = included.json()
        nodes = [bytes.fromhex(h) for h in proof["proof"]]
        leaf = bytes.fromhex(proof["leaf_hash"])
        assert rfc6962.verify_inclusion(leaf, first, second, nodes, second_root)
        refused = await client.get(  # a leaf hash could confirm a guessed objection
            "/v1/ledger/operations/proof/inclusion",
            params={"index": first},
            headers=service.headers("subject"),
        )
        assert refused.status_code == 403
    with service.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT position, tbl, row_key, state, recorded_at FROM operations "
            f"WHERE position = {first}"
        ).one()
    assert _operation_leaf(first, row) == leaf


async def test_adverse_receipts_are_proven_one_at_a_time_off_the_thread_pool(
    service: Service,
) -> None:
    """Proving an adverse answer's grounds may wait for the ledger's subtrees; it waits on the
    event loop for the one thread it may use, and other checks go on being answered."""
    proving = service.app.state.context.proving
    relying = service.headers("relying")
    async with service.client() as client:
        await _submit(client, service, DEFAULT)
        await proving.acquire()  # as if a proof were waiting for the subtrees
        adverse = asyncio.create_task(
            client.get(
                "/v1/checks",
                params={"subject": PERSON, "measure": "restrict-flights"},
                headers=relying,
            )
        )
        await asyncio.sleep(0.3)
        assert not adverse.done()
        other = await client.get(
            "/v1/checks", params={"subject": OTHER, "measure": "restrict-flights"}, headers=relying
        )
        assert other.status_code == 200
        assert other.json()["applies"] is False
        assert not adverse.done()
        proving.release()
        answer = await adverse
    assert answer.status_code == 200, answer.text
    assert answer.json()["applies"] is True
    assert '"grounds":[{' in answer.json()["receipt"]
