"""The inquiry log as a Merkle tree: every check is an entry, placed by the commit that logs it.

A check is logged before it is answered (:mod:`xinyong.application.inquiry_log`); the same
transaction gives each inquiry of its batch the next position in the inquiry log's tree and the
leaf hash of its columns (:data:`~xinyong.ledger.entries.INQUIRY_COLUMNS`), and stores the new
tree head in ``inquiry_checkpoints`` (beside ``inquiries``: in the inquiry log's own file on
SQLite). Appends are serialised by a lock of their own (:func:`~xinyong.ledger.database.
hold_inquiry_lock`), taken after the transaction's other locks and before it reads the tree's
head, so that the ledger's appends and the operations log never wait for checks.

:func:`verify_inquiries` recomputes the tree like the main tree's: an inquiry edited, moved or
deleted, or added without a place in the tree, is named. A rewrite of the inquiries and every
checkpoint is caught by a checkpoint kept elsewhere: the tree's signed checkpoint (origin: the
ledger's followed by ``/inquiries``) is served for witnesses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from xinyong.ledger.append import TreeHead, read_frontier, utc_now_text
from xinyong.ledger.database import hold_inquiry_lock
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.entries import INQUIRY_COLUMNS, entry_hash
from xinyong.ledger.merkle import Frontier
from xinyong.ledger.schema import inquiries, inquiry_checkpoints
from xinyong.ledger.trees import INQUIRIES
from xinyong.ledger.verify import Problem, Verification, verify_tree

__all__ = ["append_inquiries", "place", "place_unplaced", "verify_inquiries"]


def place(frontier: Frontier, rows: Sequence[dict[str, Any]], committed_at: str) -> dict[str, Any]:
    """Give each row (a mapping of :data:`~xinyong.ledger.entries.INQUIRY_COLUMNS`) the next
    position after ``frontier`` and its leaf hash, in order, extending ``frontier``; return the
    row of ``inquiry_checkpoints`` for the new head."""
    for row in rows:
        position = frontier.size
        digest = entry_hash("inquiries", position, tuple(row[c] for c in INQUIRY_COLUMNS))
        frontier.append(digest)
        row["position"] = position
        row["leaf_hash"] = digest
    return {
        "size": frontier.size,
        "root": frontier.root(),
        "frontier": frontier.to_text(),
        "committed_at": committed_at,
    }


_HEAD = DriverStatement(
    select(inquiry_checkpoints.c.size, inquiry_checkpoints.c.frontier)
    .order_by(inquiry_checkpoints.c.size.desc())
    .limit(1),
    {},
)
_HEAD_COLUMNS = ("size", "root", "frontier", "committed_at")
_ADD_HEAD = DriverStatement(
    insert(inquiry_checkpoints).values({name: bindparam(name) for name in _HEAD_COLUMNS}),
    {"size": 0, "root": b"", "frontier": "", "committed_at": ""},
)


def append_inquiries(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    write: Callable[[Sequence[dict[str, Any]]], None],
) -> None:
    """Place ``rows`` in the tree, have ``write`` insert them, and store the new head, in the
    open transaction. Every statement runs on the DB-API cursor, so that this works in a
    transaction begun on the driver (the inquiry log's hot path) as in one of SQLAlchemy's."""
    if not rows:
        return
    hold_inquiry_lock(conn)
    found = _HEAD.rows(conn, {})
    frontier = Frontier() if not found else Frontier.from_text(int(found[0][0]), str(found[0][1]))
    head = place(frontier, rows, utc_now_text())
    write(rows)
    _ADD_HEAD.run_many(conn, [head])


def place_unplaced(conn: Connection) -> int:
    """Place the inquiries logged before the tree (revision 0017), in the order they were made;
    return how many. One checkpoint covers them."""
    hold_inquiry_lock(conn)
    unplaced = conn.execute(
        select(*(inquiries.c[c] for c in INQUIRY_COLUMNS))
        .where(inquiries.c.position.is_(None))
        .order_by(inquiries.c.made_at, inquiries.c.decision_id)
    ).mappings()
    rows = [dict(row) for row in unplaced]
    if not rows:
        return 0
    head = place(read_frontier(conn, inquiry_checkpoints), rows, utc_now_text())
    for row in rows:
        conn.execute(
            update(inquiries)
            .where(inquiries.c.decision_id == row["decision_id"])
            .values(position=row["position"], leaf_hash=row["leaf_hash"])
        )
    conn.execute(insert(inquiry_checkpoints).values(head))
    return len(rows)


def verify_inquiries(conn: Connection, against: TreeHead | None = None) -> Verification:
    """Recompute the inquiry log's tree; name the inquiries that have no place in it."""
    tree = verify_tree(conn, INQUIRIES.columns(), INQUIRIES.heads.name, against)
    result = Verification(tree.size, tree.root, tree.checkpoints, truncated=tree.truncated)
    unplaced = conn.execute(
        select(func.count()).select_from(inquiries).where(inquiries.c.position.is_(None))
    ).scalar_one()
    if unplaced:
        message = f"{unplaced} checks have no place in the tree (logged behind its back)"
        result.add(Problem(None, message, INQUIRIES.name))
    for problem in tree.problems:
        result.add(Problem(problem.position, problem.message, INQUIRIES.name))
    return result
