"""The operations log: every change to an operational row, as an entry of a second Merkle tree.

The main tree holds what is furnished (subjects, records, events on them). What the service does
with it lives in operational rows: API keys, relying parties, sources, scheme versions and their
activation, objections and their decisions, repair requests, human reviews, appeals, listings
and notices. Those rows change (an objection is decided, a key revoked, a listing ends), so the
log does not hold the rows themselves but each *state* a row took: the transaction that inserts
or updates a tracked row calls :func:`log_rows` before it commits, which appends one entry per
row whose state differs from the last one logged for it, and checkpoints the tree. The entries
are written when the transaction commits (:mod:`xinyong.ledger.at_commit`, so that no
transaction can forget them): the write and its entries commit together or not at all, and the
rows are logged as they are at the end of the transaction.

An entry is ``[table, key, state, recorded_at]`` at a position: the row's primary key as a JSON
array and its whole state as canonical JSON (sorted keys, dates as ``YYYY-MM-DD``), except that
a webhook secret is logged as its SHA-256, so that the log holds no secret. Its leaf hash is
RFC 6962's, like the main tree's, over ``["xinyong-ledger/1", "operation", position, ...]``.

:func:`verify_operations` recomputes the tree (an edited, moved or deleted entry fails, as in
the main tree) and then compares every tracked row with the newest state logged for it: a row
edited, deleted or added without its entry is named. Rewriting rows, entries *and* checkpoints
together is caught only by a checkpoint kept elsewhere: the tree's signed checkpoint (origin
``<ledger origin>/operations``) and its verifier key are served, for anyone to keep.

The adverse-check notices a check writes with its inquiry are held in the inquiry log instead,
through the check's entry (:mod:`xinyong.ledger.adverse_notices`).

Writers are serialized by a lock taken at that commit, after every other lock the transaction
takes, so that no two transactions wait for each other's (on PostgreSQL a transaction-scoped
advisory lock; SQLite's single writer holds its own).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    ColumnClause,
    ColumnElement,
    Connection,
    MetaData,
    RowMapping,
    Select,
    Table,
    column,
    insert,
    select,
    true,
)

from xinyong.ledger.adverse_notices import ADVERSE_CHECK_KIND
from xinyong.ledger.append import TreeHead, read_frontier, read_head, utc_now_text
from xinyong.ledger.at_commit import OPERATIONS as OPERATIONS_ORDER
from xinyong.ledger.at_commit import at_commit
from xinyong.ledger.database import hold_operations_lock
from xinyong.ledger.entries import entry_hash
from xinyong.ledger.schema import (
    api_keys,
    appeals,
    listings,
    notices,
    objections,
    operation_checkpoints,
    operations,
    relying_parties,
    repairs,
    reviews,
    schemes,
    sources,
)
from xinyong.ledger.trees import OPERATIONS
from xinyong.ledger.verify import Problem, Verification, verify_tree

__all__ = [
    "TRACKED",
    "log_existing_rows",
    "log_rows",
    "read_operations_head",
    "row_key",
    "row_state",
    "verify_operations",
]

TRACKED: Final[dict[str, Table]] = {
    t.name: t
    for t in (
        api_keys,
        relying_parties,
        sources,
        schemes,
        objections,
        repairs,
        reviews,
        appeals,
        listings,
        notices,
    )
}
"""The operational tables whose every change is an entry of the operations log."""

_SECRETS: Final = {"webhook_secret"}
"""Columns logged as their SHA-256: the log holds no secret."""

_CHUNK: Final = 500
_TREE: Final = OPERATIONS.name


def _untracked(table: Table) -> ColumnElement[bool]:
    """The rows of ``table`` that the log leaves out."""
    if table.name == notices.name:
        return table.c.kind == ADVERSE_CHECK_KIND
    return ~true()


def _raw(table: Table) -> Select[tuple[Any, ...]]:
    """Every column of ``table`` as the database stores it, without the column types' result
    processing: two stored values that the application's SQL tells apart (SQLite's ``2`` and
    ``1`` in a boolean column, a date written in another form) must not log as one state."""
    raw: list[ColumnClause[Any]] = [column(c.name) for c in table.columns]
    return select(*raw).select_from(table)


def _value(col: Column[Any], value: Any) -> Any:
    if col.name in _SECRETS and isinstance(value, str):
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    if isinstance(value, bool):
        return value
    if isinstance(col.type, Boolean) and type(value) is int and value in (0, 1):
        return bool(value)  # SQLite stores a boolean as 0 or 1; PostgreSQL hands back a bool
    if isinstance(value, date):  # PostgreSQL's dates (and times); SQLite's are text already
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "hex:" + bytes(value).hex()
    return value


def row_key(table: Table, row: RowMapping) -> str:
    """The primary key of ``row`` as the log writes it: a JSON array, in the key's order."""
    return orjson.dumps([_value(c, row[c.name]) for c in table.primary_key.columns]).decode()


def row_state(table: Table, row: RowMapping) -> str:
    """The whole state of ``row`` (as :func:`_raw` reads it) as the log writes it: canonical
    JSON of every column."""
    state = {str(c.name): _value(c, row[c.name]) for c in table.columns}
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode()


def read_operations_head(conn: Connection) -> TreeHead:
    """The operations log's newest tree head (size 0 and the empty root when empty)."""
    return read_head(conn, operation_checkpoints)


def _latest(conn: Connection, table: str, keys: Sequence[str]) -> dict[str, str | None]:
    """The newest state logged for each of ``keys`` (absent: never logged)."""
    found: dict[str, str | None] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = conn.execute(
            select(operations.c.row_key, operations.c.state)
            .where(operations.c.tbl == table, operations.c.row_key.in_(chunk))
            .order_by(operations.c.position)
        )
        for key, state in rows:
            found[str(key)] = state
    return found


def _append(conn: Connection, entries: Sequence[tuple[str, str, str | None]]) -> None:
    frontier = read_frontier(conn, operation_checkpoints)
    recorded_at = utc_now_text()
    rows = []
    for position, (table, key, state) in enumerate(entries, start=frontier.size):
        values = (table, key, state, recorded_at)
        digest = entry_hash("operations", position, values)
        frontier.append(digest)
        rows.append(
            {
                "position": position,
                "tbl": table,
                "row_key": key,
                "state": state,
                "recorded_at": recorded_at,
                "leaf_hash": digest,
            }
        )
    conn.execute(insert(operations), rows)
    conn.execute(
        insert(operation_checkpoints).values(
            size=frontier.size,
            root=frontier.root(),
            frontier=frontier.to_text(),
            committed_at=recorded_at,
        )
    )


def log_rows(conn: Connection, table: Table, where: ColumnElement[bool]) -> None:
    """Log the rows of ``table`` that match ``where`` when this transaction commits, as they
    are then: one entry for each whose state differs from the newest logged for it (so logging
    a row that did not change adds nothing). Call it where the rows are written."""
    at_commit(conn, OPERATIONS_ORDER, _flush, (table, where))


def _flush(conn: Connection, pending: list[tuple[Table, ColumnElement[bool]]]) -> None:
    hold_operations_lock(conn)
    for table, where in pending:
        rows = conn.execute(_raw(table).where(where, ~_untracked(table))).mappings().all()
        _log(conn, table, rows)


def _log(conn: Connection, table: Table, rows: Iterable[RowMapping]) -> int:
    states = {row_key(table, row): row_state(table, row) for row in rows}
    if not states:
        return 0
    logged = _latest(conn, table.name, list(states))
    entries = [
        (table.name, key, state) for key, state in states.items() if logged.get(key) != state
    ]
    if entries:
        _append(conn, entries)
    return len(entries)


def log_existing_rows(conn: Connection) -> int:
    """Log every tracked row not logged in its current state: a ledger upgraded to the
    operations log (its rows become the log's first entries), and a migration that changes a
    tracked table's columns (every row's state changes with them). The tables are read as the
    database has them, so that a migration may call it before later ones change them."""
    hold_operations_lock(conn)
    added = 0
    for name in TRACKED:
        table = Table(name, MetaData(), autoload_with=conn)
        rows = conn.execute(_raw(table).where(~_untracked(table))).mappings().all()
        added += _log(conn, table, rows)
    return added


@dataclass(frozen=True, slots=True)
class _Logged:
    position: int
    digest: bytes | None
    """SHA-256 of the state (None: logged as deleted); the digest, not the text, to keep the
    whole log's newest states in memory."""


def _digest(state: str | None) -> bytes | None:
    return None if state is None else hashlib.sha256(state.encode()).digest()


def _newest_states(conn: Connection) -> dict[tuple[str, str], _Logged]:
    newest: dict[tuple[str, str], _Logged] = {}
    result = conn.execute(
        select(operations.c.position, operations.c.tbl, operations.c.row_key, operations.c.state)
        .order_by(operations.c.position)
        .execution_options(stream_results=True, yield_per=10_000)
    )
    for position, table, key, state in result:
        newest[(str(table), str(key))] = _Logged(int(position), _digest(state))
    return newest


def _rows(conn: Connection, table: Table) -> Iterator[RowMapping]:
    result = conn.execute(
        _raw(table)
        .where(~_untracked(table))
        .execution_options(stream_results=True, yield_per=10_000)
    )
    yield from result.mappings()


def _state_or_none(table: Table, row: RowMapping) -> str | None:
    """The row's state, or None when a value stored behind the log's back cannot be written as
    JSON (it then differs from any state logged)."""
    try:
        return row_state(table, row)
    except TypeError:
        return None


def verify_operations(conn: Connection, against: TreeHead | None = None) -> Verification:
    """Recompute the operations log's tree, then check every tracked row against the newest
    state logged for it."""
    tree = verify_tree(conn, OPERATIONS.columns(), OPERATIONS.heads.name, against)
    result = Verification(tree.size, tree.root, tree.checkpoints, truncated=tree.truncated)
    for problem in tree.problems:
        result.add(Problem(problem.position, problem.message, _TREE))
    newest = _newest_states(conn)
    for name, table in TRACKED.items():
        for row in _rows(conn, table):
            key = row_key(table, row)
            logged = newest.pop((name, key), None)
            if logged is None:
                message = f"{name} {key} is not in the log (added behind the log's back)"
                result.add(Problem(None, message, _TREE))
            elif logged.digest != _digest(_state_or_none(table, row)):
                message = f"{name} {key} is not as last logged (edited behind the log's back)"
                result.add(Problem(logged.position, message, _TREE))
    for (name, key), logged in sorted(newest.items(), key=lambda item: item[1].position):
        if logged.digest is not None:
            message = f"{name} {key} is logged but gone (deleted behind the log's back)"
            result.add(Problem(logged.position, message, _TREE))
    return result
