"""Proofs read the blocks of leaves they need by position, in bounded statements, and refuse a
leaf that no longer hashes to what was kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from tests.support.ledgers import append_people, new_ledger
from xinyong.ledger import proofs
from xinyong.ledger.database import open_database
from xinyong.ledger.proofs import ProofRefused, prove_inclusion, prove_inclusions
from xinyong.ledger.schema import records


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Engine:
    engine = open_database(new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}"))
    yield engine  # type: ignore[misc]
    engine.dispose()


def test_the_blocks_read_ahead_are_searched_by_position_not_scanned(sqlite_ledger: Engine) -> None:
    """Three entries and the tree's incomplete last block (an ordinary adverse receipt): SQLite
    scans every entry table for an OR of four ranges, so each range is its own search."""
    append_people(sqlite_ledger, 2000)  # 4,000 entries
    seen: list[tuple[str, object]] = []
    sa.event.listen(
        sqlite_ledger, "before_cursor_execute", lambda *args: seen.append((args[2], args[3]))
    )
    with sqlite_ledger.connect() as conn:
        prove_inclusions(conn, [5], 3999)  # the tree's roots kept: what follows reads blocks
        seen.clear()
        prove_inclusions(conn, [5, 1000, 2000], 3999)
        reads = [(s, p) for s, p in seen if "leaf_hash" in s]
        plans = [
            [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p)]
            for s, p in reads
        ]
    assert reads
    for plan in plans:
        assert not [step for step in plan if step.startswith("SCAN") and "anon" not in step], plan


def test_proofs_over_more_blocks_than_one_statement_reads(
    sqlite_ledger: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries in many blocks are read in several statements, and proven as one at a time."""
    monkeypatch.setattr(proofs, "_BLOCKS_PER_STATEMENT", 4)
    head = append_people(sqlite_ledger, 700)  # 1,400 entries: 22 blocks, the last incomplete
    statements: list[str] = []
    sa.event.listen(
        sqlite_ledger, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    indices = list(range(3, head.size, 64))
    with sqlite_ledger.connect() as conn:
        proofs._KEPT.clear()
        proofs._subtrees(conn, head.size, proofs.MAIN)  # kept first: only the blocks are read
        statements.clear()
        found = prove_inclusions(conn, indices, head.size, head=head)
        reads = [s for s in statements if "leaf_hash" in s]
        assert len(reads) == 6  # 22 blocks, 4 at a time
        assert found == [prove_inclusion(conn, index, head.size) for index in indices]


def test_a_leaf_edited_in_the_proven_entrys_block_is_refused(sqlite_ledger: Engine) -> None:
    """Once the tree's roots are kept, the root of a tree whose size ends a block does not read
    the entry's block: the block is checked against its kept root, so an edited leaf hash is
    refused, never proven."""
    head = append_people(sqlite_ledger, 64)  # 128 entries: two complete blocks
    with sqlite_ledger.connect() as conn:
        prove_inclusion(conn, 3, head.size)  # the roots are kept
    with sqlite_ledger.begin() as conn:
        conn.execute(records.update().where(records.c.position == 65).values(leaf_hash=b"\0" * 32))
    with sqlite_ledger.connect() as conn, pytest.raises(ProofRefused, match="do not hash"):
        prove_inclusion(conn, 65, head.size)
