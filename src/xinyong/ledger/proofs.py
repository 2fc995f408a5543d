"""Inclusion and consistency proofs over the ledger's entries (RFC 6962 / RFC 9162 2.1).

The ledger's leaves are its entries in log order, across ``subjects``, ``records`` and
``events`` (each row's ``leaf_hash``). A proof names the tree by its size; the root to check it
against is in the signed checkpoint of that size (:mod:`xinyong.ledger.signed_head`).

Proofs are computed from the stored leaf hashes of the tree's first ``size`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, union_all

from xinyong.ledger.append import read_size
from xinyong.ledger.merkle import consistency_proof, inclusion_proof
from xinyong.ledger.schema import events, records, subjects

__all__ = ["Entry", "ProofRefused", "entry_at", "prove_consistency", "prove_inclusion"]


class ProofRefused(ValueError):
    """The sizes or index do not name a proof of this ledger (what is wrong, in one sentence)."""


def _leaves(conn: Connection, size: int) -> list[bytes]:
    parts = [
        select(table.c.position, table.c.leaf_hash).where(table.c.position < size)
        for table in (subjects, records, events)
    ]
    query = union_all(*parts).subquery()
    rows = conn.execute(select(query.c.leaf_hash).order_by(query.c.position))
    leaves = [bytes(row[0]) for row in rows]
    if len(leaves) != size:
        raise ProofRefused(f"the ledger holds {len(leaves)} of its first {size} entries")
    return leaves


def _size(conn: Connection, size: int | None) -> int:
    current = read_size(conn)
    if size is None:
        return current
    if not 1 <= size <= current:
        raise ProofRefused(f"size must be from 1 to the ledger's size, {current} (got {size})")
    return size


def prove_inclusion(conn: Connection, index: int, size: int | None = None) -> dict[str, object]:
    """``{"index", "size", "leaf_hash", "proof"}`` for entry ``index`` in the tree of ``size``
    entries (the current size by default), hashes as lowercase hex."""
    tree = _size(conn, size)
    if not 0 <= index < tree:
        raise ProofRefused(f"index must be from 0 to {tree - 1} (got {index})")
    leaves = _leaves(conn, tree)
    proof = inclusion_proof(leaves, index)
    return {
        "index": index,
        "size": tree,
        "leaf_hash": leaves[index].hex(),
        "proof": [node.hex() for node in proof],
    }


def prove_consistency(conn: Connection, first: int, second: int | None = None) -> dict[str, object]:
    """``{"first", "second", "proof"}``: the tree of ``second`` entries extends the tree of
    ``first`` entries (RFC 9162 2.1.4)."""
    tree = _size(conn, second)
    if not 1 <= first <= tree:
        raise ProofRefused(f"first must be from 1 to second, {tree} (got {first})")
    proof = consistency_proof(_leaves(conn, tree), first)
    return {"first": first, "second": tree, "proof": [node.hex() for node in proof]}


@dataclass(frozen=True, slots=True)
class Entry:
    """What a ledger entry is about: its table, its subject, and for a record its code and
    attributes (a relation record names a person too)."""

    table: str
    subject_id: str
    code: str
    attrs: str


def entry_at(conn: Connection, position: int) -> Entry | None:
    """The entry at ``position``, or None past the end."""
    found = conn.execute(
        select(subjects.c.subject_id).where(subjects.c.position == position)
    ).first()
    if found is not None:
        return Entry("subjects", str(found[0]), "", "{}")
    found = conn.execute(
        select(records.c.subject_id, records.c.code, records.c.attrs).where(
            records.c.position == position
        )
    ).first()
    if found is not None:
        return Entry("records", str(found[0]), str(found[1]), str(found[2]))
    found = conn.execute(
        select(records.c.subject_id, records.c.code, records.c.attrs)
        .select_from(
            events.join(
                records,
                (records.c.source == events.c.source) & (records.c.record_id == events.c.record_id),
            )
        )
        .where(events.c.position == position)
    ).first()
    if found is not None:
        return Entry("events", str(found[0]), str(found[1]), str(found[2]))
    return None
