"""The signed floors of ``bench/check.py`` do the work they stand for.

A floor bounds what any server can reach, so a floor that skipped part of a check's work (a tree
that is not RFC 9162's, a receipt that does not verify) would bound nothing. Their hand-written
Merkle frontier and signed notes are held here to xinyong's own Merkle tree and note verifier.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path
from types import ModuleType

import orjson
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from tests.support.ledgers import new_ledger
from tests.support.postgres import reset_pg
from xinyong.ledger.merkle import root_of
from xinyong.ledger.signing import NoteVerifier, key_id_of

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _check_module() -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import check

    return check


@given(st.lists(st.integers(min_value=0, max_value=40), max_size=8))
def test_the_floor_frontier_gives_the_rfc_9162_root_batch_after_batch(batches: list[int]) -> None:
    check = _check_module()
    leaves: list[bytes] = []
    frontier = check._Frontier.from_head(None)
    for size in batches:
        for _ in range(size):
            leaf = hashlib.sha256(b"\x00" + len(leaves).to_bytes(8, "big")).digest()
            frontier.append(leaf)
            leaves.append(leaf)
        frontier = check._Frontier.from_head((frontier.size, frontier.text()))  # as stored
        assert frontier.size == len(leaves)
        assert frontier.root() == root_of(leaves)


def test_a_floor_receipt_is_a_signed_note_the_ledger_verifier_opens() -> None:
    check = _check_module()
    signer = check._Signer()
    decision = {**check.BARE_BODY, "checkpoint": {"root": "ab", "size": 3}, "position": 2}
    note = signer.receipt(decision)
    public = signer.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = signer.NAME.decode()
    verifier = NoteVerifier(name, key_id_of(name, public), signer.key.public_key())
    text = verifier.open(note)
    assert (
        text
        == "xinyong-receipt/v1\n"
        + orjson.dumps(decision, option=orjson.OPT_SORT_KEYS).decode()
        + "\n"
    )


def test_the_floor_tree_lock_is_none_of_the_ledger_locks() -> None:
    """A floor that shared a lock with the service would wait for its appends (a floor on the
    ledger's append lock answered in seconds while records were posted)."""
    from xinyong.ledger import database

    ledger_keys = {value for name, value in vars(database).items() if name.startswith("_PG_")}
    assert _check_module().FLOOR_LOCK not in ledger_keys


@pytest.mark.postgres
def test_the_records_floor_gives_concurrent_batches_positions_one_after_another(
    pg_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches that arrive together wait for the floor's one connection; each then takes the
    positions after the last batch's (a position read before the wait was given twice)."""
    import psycopg

    check = _check_module()
    reset_pg(pg_server_url)
    url = new_ledger(pg_server_url)
    check.create_floor_table(url)
    monkeypatch.setenv(check.FLOOR_ENV, check._libpq(url))
    monkeypatch.setattr(check.os, "sched_setscheduler", lambda *_: None)  # not this test's process
    app = check.floor_records_app()
    record = {"subject_kind": "person", "code": "x.y", "occurred_at": "2026-01-01"}

    async def post(batch: int) -> int:
        rows = [{**record, "record_id": f"b{batch}-{n}", "subject_id": f"s{n}"} for n in range(3)]
        body = orjson.dumps({"records": rows})
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await app({"type": "http"}, receive, send)
        return int(sent[0]["status"])  # type: ignore[call-overload]

    async def run() -> list[int]:
        lifespan: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        started = asyncio.Event()

        async def send(message: dict[str, str]) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set()

        await lifespan.put({"type": "lifespan.startup"})
        serving = asyncio.create_task(app({"type": "lifespan"}, lifespan.get, send))
        await started.wait()
        statuses = await asyncio.gather(*(post(batch) for batch in range(5)))
        await lifespan.put({"type": "lifespan.shutdown"})
        await serving
        return list(statuses)

    assert asyncio.run(run()) == [200] * 5
    with psycopg.connect(check._libpq(url)) as conn:
        positions = [p for (p,) in conn.execute("SELECT position FROM bench_floor_records")]
    assert sorted(positions) == list(range(1, 16))
