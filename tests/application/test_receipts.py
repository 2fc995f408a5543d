"""Receipts as the service makes them: an adverse answer's grounds always verify against the
receipt's own checkpoint."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.ledgers import append_people, new_ledger
from xinyong.application.receipts import Receipts
from xinyong.decisions.checks import Decision
from xinyong.decisions.receipts import open_receipt
from xinyong.ledger.append import read_checkpoint
from xinyong.ledger.database import open_database
from xinyong.ledger.signing import LedgerKey, NoteVerifier


def _decision(subject: str, size: int) -> Decision:
    return Decision(
        "d1", "airline", subject, "no-premium-travel", True, "s", "1", date(2024, 6, 1), size, "t"
    )


def test_a_ledger_restored_and_grown_otherwise_gets_grounds_of_its_own_checkpoint(
    tmp_path: Path,
) -> None:
    """A ledger restored from a backup (the same id at the same URL) that then grew with other
    entries has another checkpoint at a size the service already signed receipts at: an adverse
    answer's receipt names the checkpoint the database holds now, and its grounds verify
    against it."""
    path = tmp_path / "ledger.db"
    url = new_ledger(f"sqlite:///{path}")
    key = LedgerKey("example.org/ledger", Ed25519PrivateKey.generate())
    verifier = NoteVerifier.from_text(key.verifier_key)
    engine = open_database(url)
    receipts = Receipts(engine, 60)  # given a connection each time: its engine is not used
    append_people(engine, 32, 0, '{"batch":"first"}')  # 64 entries
    engine.dispose()
    shutil.copy(path, tmp_path / "backup.db")
    engine = open_database(url)
    append_people(engine, 32, 32, '{"batch":"second"}')  # 128
    with engine.connect() as conn:
        notice = {"records": [{"record": "court/R40"}]}
        before = open_receipt(
            receipts.make(key, _decision("P000040", 128), [], conn, notice), verifier
        )
    engine.dispose()
    for log in tmp_path.glob("ledger.db-*"):  # the closed ledger's log files, if any
        log.unlink()
    shutil.copy(tmp_path / "backup.db", path)  # restored; the loads go on with other data
    engine = open_database(url)
    append_people(engine, 32, 32, '{"batch":"other"}')  # another 128
    with engine.connect() as conn:
        now = read_checkpoint(conn, 128)
        notice = {"records": [{"record": "court/R41"}]}
        after = open_receipt(
            receipts.make(key, _decision("P000041", 128), [], conn, notice), verifier
        )
    engine.dispose()
    assert now is not None
    assert before["checkpoint"]["root"] != now.root.hex()
    assert after["checkpoint"] == {"size": 128, "root": now.root.hex()}
    assert [g["index"] for g in after["grounds"]] == [64 + 32 + 9]  # R41: the 10th record
