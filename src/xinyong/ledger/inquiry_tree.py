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

from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, select, true, update

from xinyong.domain.chunks import chunked
from xinyong.ledger.adverse_notices import verify_adverse_notices
from xinyong.ledger.append import TreeHead, utc_now_text
from xinyong.ledger.at_commit import INQUIRIES as INQUIRIES_ORDER
from xinyong.ledger.at_commit import at_commit
from xinyong.ledger.database import hold_inquiry_lock
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.entries import INQUIRY_COLUMNS, entry_hash
from xinyong.ledger.merkle import Frontier
from xinyong.ledger.schema import inquiries, inquiry_checkpoints
from xinyong.ledger.trees import INQUIRIES
from xinyong.ledger.verify import Problem, Verification, verify_tree

__all__ = ["HEAD_SQL", "append_inquiries", "place", "place_unplaced", "verify_inquiries"]


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


HEAD_SQL = "SELECT size, frontier FROM inquiry_checkpoints ORDER BY size DESC LIMIT 1"
"""The inquiry log tree's head (its size and frontier), for a connection outside SQLAlchemy:
read under the log's lock by the transaction that places the next batch."""

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


_PLACE = DriverStatement(
    update(inquiries)
    .where(inquiries.c.decision_id == bindparam("logged"))
    .values(position=bindparam("place"), leaf_hash=bindparam("leaf")),
    {"logged": "", "place": 0, "leaf": b""},
)


def append_inquiries(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    write: Callable[[Sequence[dict[str, Any]]], None],
) -> None:
    """Have ``write`` insert ``rows`` and place them in the tree, in the open transaction.

    In a transaction of SQLAlchemy's (a correction logged by a ledger transaction, the thread
    writer, a spill file's import) the rows are written at once without a place and placed when
    it commits (:mod:`xinyong.ledger.at_commit`), so that the tree's lock is held only for the
    commit. In a transaction begun on the driver (the inquiry log's hot path, a batch of checks
    and nothing else) they are placed at once. Every statement runs on the DB-API cursor, so
    that this works in both."""
    if not rows:
        return
    if conn.in_transaction():
        write([{**row, "position": None, "leaf_hash": None} for row in rows])
        at_commit(conn, INQUIRIES_ORDER, _place_logged, [row["decision_id"] for row in rows])
        return
    hold_inquiry_lock(conn)
    head = place(_frontier(conn), rows, utc_now_text())
    write(rows)
    _ADD_HEAD.run_many(conn, [head])


def _frontier(conn: Connection) -> Frontier:
    found = _HEAD.rows(conn, {})
    return Frontier() if not found else Frontier.from_text(int(found[0][0]), str(found[0][1]))


def _place_logged(conn: Connection, batches: list[list[str]]) -> None:
    """Place the checks this transaction logged, in the order it logged them."""
    order = {decision_id: n for n, decision_id in enumerate(d for ids in batches for d in ids)}
    rows: list[dict[str, Any]] = []
    for part in chunked(list(order)):
        rows += _unplaced(conn, inquiries.c.decision_id.in_(part))
    rows.sort(key=lambda row: order[row["decision_id"]])
    _place_rows(conn, rows)


def _unplaced(
    conn: Connection, where: ColumnElement[bool], columns: Sequence[str] = INQUIRY_COLUMNS
) -> list[dict[str, Any]]:
    query = select(*(inquiries.c[c] for c in columns)).where(where, inquiries.c.position.is_(None))
    rows = [dict(row) for row in conn.execute(query).mappings()]
    for row in rows:
        row.setdefault("notice_hash", None)
    return rows


def _place_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    hold_inquiry_lock(conn)
    if not rows:
        return
    head = place(_frontier(conn), rows, utc_now_text())
    placed = [
        {"logged": row["decision_id"], "place": row["position"], "leaf": row["leaf_hash"]}
        for row in rows
    ]
    _PLACE.run_many(conn, placed)
    _ADD_HEAD.run_many(conn, [head])


def place_unplaced(conn: Connection) -> int:
    """Place the inquiries logged before the tree (revision 0017), in the order they were made;
    return how many. One checkpoint covers them."""
    # revision 0017 runs before the notice's hash has a column (0018): those checks have none
    before = INQUIRY_COLUMNS[:-1]
    rows = sorted(
        _unplaced(conn, true(), before), key=lambda row: (row["made_at"], row["decision_id"])
    )
    _place_rows(conn, rows)
    return len(rows)


def verify_inquiries(conn: Connection, against: TreeHead | None = None) -> Verification:
    """Recompute the inquiry log's tree; name the inquiries that have no place in it, and the
    adverse notices that are not the ones their checks sent."""
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
    for position, message in verify_adverse_notices(conn):
        result.add(Problem(position, message, INQUIRIES.name))
    return result
