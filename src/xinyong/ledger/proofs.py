"""Inclusion and consistency proofs over the ledger's entries (RFC 6962 / RFC 9162 2.1).

The ledger's leaves are its entries in log order, across ``subjects``, ``records`` and
``events`` (each row's ``leaf_hash``); the other trees' are their tables' rows
(:mod:`xinyong.ledger.trees`). A proof names the tree by its size; the root to check it
against is in the signed checkpoint of that size (:mod:`xinyong.ledger.signed_head`).

Proofs come from kept subtree roots (:mod:`xinyong.ledger.subtrees`): the first proof of a
ledger in a process reads its leaf hashes once, later ones read only what the log grew by and
at most a few hundred leaves around the entry. The kept roots are checked against the
checkpoint of the proof's size, so a replaced or edited ledger is read again, and refused if its
entries do not hash to its own checkpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select, tuple_, union_all

from xinyong.domain.chunks import chunked
from xinyong.ledger.append import TreeHead, read_checkpoint, read_head, read_size
from xinyong.ledger.schema import events, ledger_identity, records, subjects
from xinyong.ledger.subtrees import ReadLeaves, Subtrees, blockwise, proof_blocks
from xinyong.ledger.trees import MAIN, Tree

__all__ = [
    "Entry",
    "ProofRefused",
    "entry_at",
    "prove_consistency",
    "prove_inclusion",
    "prove_inclusions",
    "record_entries",
    "warm",
]


class ProofRefused(ValueError):
    """The sizes or index do not name a proof of this ledger (what is wrong, in one sentence)."""


def _reader(conn: Connection, tree: Tree) -> ReadLeaves:
    """Leaf hashes by position range, from the tree's entry tables."""

    def read(start: int, end: int) -> list[bytes]:
        parts = [
            select(table.c.position, table.c.leaf_hash).where(
                table.c.position >= start, table.c.position < end
            )
            for table in tree.entries
        ]
        query = union_all(*parts).subquery()
        rows = conn.execute(select(query.c.leaf_hash).order_by(query.c.position))
        leaves = [bytes(row[0]) for row in rows]
        if len(leaves) != end - start:
            raise ProofRefused(
                f"the {tree.name} holds {len(leaves)} of its entries {start} to {end - 1}"
            )
        return leaves

    return read


_KEPT: dict[tuple[str, str, str], Subtrees] = {}
"""Kept subtree roots per tree of a ledger (its database, id and tree), for this process."""
_KEPT_LOCK = threading.Lock()


def _key(conn: Connection, tree: Tree) -> tuple[str, str, str]:
    """The tree's key in :data:`_KEPT`: its database, ledger id and name."""
    ledger = str(conn.execute(select(ledger_identity.c.ledger_id)).scalar_one())
    return (conn.engine.url.render_as_string(hide_password=True), ledger, tree.name)


_BLOCKS_PER_STATEMENT = 100
"""Blocks read ahead in one statement: a search by position each (SQLite scans every entry table
for an ``OR`` of four ranges or more), up to 300 in a compound statement (SQLite allows 500)."""


def _read_blocks(
    conn: Connection, tree: Tree, low: int, limit: int, wanted: Sequence[int]
) -> dict[int, Sequence[bytes]]:
    """The leaf hashes of the aligned blocks ``wanted`` (ascending) of ``2**low`` leaves (cut at
    ``limit``), by block, in one statement per :data:`_BLOCKS_PER_STATEMENT`."""
    found: dict[int, list[bytes]] = {block: [] for block in wanted}
    for part in chunked(wanted, _BLOCKS_PER_STATEMENT):
        spans = [(block << low, min((block + 1) << low, limit)) for block in part]
        query = union_all(
            *(
                select(table.c.position, table.c.leaf_hash).where(
                    table.c.position >= start, table.c.position < end
                )
                for start, end in spans
                for table in tree.entries
            )
        ).subquery()
        rows = conn.execute(select(query.c.position, query.c.leaf_hash).order_by(query.c.position))
        for position, leaf in rows:
            found[int(position) >> low].append(bytes(leaf))
    for block, leaves in found.items():
        start, end = block << low, min((block + 1) << low, limit)
        if len(leaves) != end - start:
            raise ProofRefused(
                f"the {tree.name} holds {len(leaves)} of its entries {start} to {end - 1}"
            )
    return dict(found)


def _subtrees(
    conn: Connection,
    size: int,
    tree: Tree,
    head: TreeHead | None = None,
    indices: Sequence[int] = (),
) -> tuple[Subtrees, ReadLeaves]:
    """The tree's kept subtrees covering ``size`` leaves, checked against the checkpoint of
    that size when a batch ended there (rebuilt once if they disagree: the log was replaced).
    ``head``: that checkpoint, when the caller has read it; ``indices``: the entries to be
    proven, whose blocks are read at once with the tree's right edge (one statement instead of
    one per block)."""
    key = _key(conn, tree)
    read = _reader(conn, tree)
    if head is None:
        head = read_checkpoint(conn, size, tree.heads)
    for attempt in range(2):
        with _KEPT_LOCK:
            kept = _KEPT.get(key)
            if kept is None or attempt:
                kept = _KEPT[key] = Subtrees()
        kept.extend(read, size)
        ahead = _read_blocks(conn, tree, kept.low, size, proof_blocks(kept.low, indices, size))
        blocks = blockwise(read, kept.low, size, ahead)  # a proof reads a few blocks, each once
        if kept.agrees(ahead) and (head is None or kept.root(blocks, size) == head.root):
            return kept, blocks
    raise ProofRefused(
        f"the {tree.name}'s entries do not hash to its checkpoint of {size}: "
        "run xinyong ledger verify"
    )


def _size(conn: Connection, size: int | None, tree: Tree) -> int:
    current = read_size(conn) if tree is MAIN else read_head(conn, tree.heads).size
    if size is None:
        return current
    if not 1 <= size <= current:
        raise ProofRefused(f"size must be from 1 to the {tree.name}'s size, {current} (got {size})")
    return size


def prove_inclusion(
    conn: Connection, index: int, size: int | None = None, tree: Tree = MAIN
) -> dict[str, object]:
    """``{"index", "size", "leaf_hash", "proof"}`` for entry ``index`` in the tree of ``size``
    entries (the current size by default), hashes as lowercase hex."""
    return prove_inclusions(conn, [index], size, tree)[0]


def prove_inclusions(
    conn: Connection,
    indices: Sequence[int],
    size: int | None = None,
    tree: Tree = MAIN,
    head: TreeHead | None = None,
) -> list[dict[str, object]]:
    """:func:`prove_inclusion` for each of ``indices``, in the same tree (its kept subtrees
    checked against the checkpoint once). ``head``: the tree's checkpoint of ``size``, when the
    caller has read it (a checkpoint is only ever of a size the tree reached)."""
    if not indices:
        return []
    if head is not None and head.size != size:
        raise ValueError(f"the checkpoint given is of size {head.size}, not {size}")
    total = head.size if head is not None else _size(conn, size, tree)
    for index in indices:
        if not 0 <= index < total:
            raise ProofRefused(f"index must be from 0 to {total - 1} (got {index})")
    kept, read = _subtrees(conn, total, tree, head, indices)
    return [
        {
            "index": index,
            "size": total,
            "leaf_hash": read(index, index + 1)[0].hex(),
            "proof": [node.hex() for node in kept.inclusion(read, index, total)],
        }
        for index in indices
    ]


def record_entries(conn: Connection, keys: Sequence[tuple[str, str]], size: int) -> list[int]:
    """The positions below ``size`` of the entries of these records (``(source, record_id)``):
    each record's own and the events on it, in log order."""
    found: list[int] = []
    for part in chunked(sorted(set(keys))):
        query = union_all(
            *(
                select(table.c.position).where(
                    tuple_(table.c.source, table.c.record_id).in_(part), table.c.position < size
                )
                for table in (records, events)
            )
        )
        found += [int(row[0]) for row in conn.execute(query)]
    return sorted(found)


_WARM_STEP = 1 << 16
"""Leaves read at a time while keeping a tree's subtrees ahead of proofs."""


def warm(conn: Connection, tree: Tree = MAIN, stopped: Callable[[], bool] = lambda: False) -> None:
    """Keep the tree's subtrees now (the first proof of a process reads every leaf hash), so
    that the first proof a request needs does not wait for it. The leaves are read a block at
    a time (memory stays small, and a proof waits for one block, not the whole read), then
    checked against the checkpoint as a proof would. Between blocks, ``stopped()`` can end the
    work early (a process shutting down); what was kept stays kept, and the next proof reads
    the rest."""
    size = _size(conn, None, tree)
    if not size:
        return
    with _KEPT_LOCK:
        kept = _KEPT.setdefault(_key(conn, tree), Subtrees())
    read = _reader(conn, tree)
    for step in range(min(size, _WARM_STEP), size + _WARM_STEP, _WARM_STEP):
        if stopped():
            return
        kept.extend(read, min(step, size))
    _subtrees(conn, size, tree)


def prove_consistency(
    conn: Connection, first: int, second: int | None = None, tree: Tree = MAIN
) -> dict[str, object]:
    """``{"first", "second", "proof"}``: the tree of ``second`` entries extends the tree of
    ``first`` entries (RFC 9162 2.1.4)."""
    total = _size(conn, second, tree)
    if not 1 <= first <= total:
        raise ProofRefused(f"first must be from 1 to second, {total} (got {first})")
    kept, read = _subtrees(conn, total, tree)
    proof = kept.consistency(read, first, total)
    return {"first": first, "second": total, "proof": [node.hex() for node in proof]}


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
