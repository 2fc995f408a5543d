"""The ledger as a transparency log over HTTP: the signed checkpoint and its key (public), and
proofs that an independent verifier (tests/support/rfc6962.py) accepts against it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import rfc6962
from tests.support.service_fixtures import DEFAULT, OTHER, PERSON, Service

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
