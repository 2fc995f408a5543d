"""Verifying the ledger: recompute every hash and every checkpoint from the stored rows.

What each kind of tampering behind the ledger's back looks like to this check:

- *modified* row: its recomputed leaf hash differs from the stored one (and the Merkle root at
  the next checkpoint differs if the stored hash was rewritten too);
- *reordered* rows: the position is hashed, so a moved row fails like a modified one;
- *deleted* row: a gap in the positions (or a log shorter than its newest checkpoint);
- *inserted* row: a duplicate position, a leaf that does not hash, or entries past the newest
  checkpoint that no batch committed.

Someone able to rewrite the rows, their hashes *and* every checkpoint can only be caught by a
tree head kept outside the database: ``--against SIZE:ROOT`` checks that the current log still
begins with exactly the entries that produced that head (the log only grew).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from xinyong.ledger.append import TreeHead
from xinyong.ledger.entries import CONTENT_COLUMNS, entry_hash, entry_label
from xinyong.ledger.merkle import Frontier

__all__ = ["Problem", "Verification", "parse_tree_head", "verify_ledger", "verify_tree"]

_MAX_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed check; ``position`` names the entry when one can be named, ``tree`` the tree
    when it is not the main one."""

    position: int | None
    message: str
    tree: str = ""

    def __str__(self) -> str:
        entry = f"entry {self.position}" if self.position is not None else ""
        where = " ".join(part for part in (self.tree, entry) if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass(slots=True)
class Verification:
    """The outcome of a full verification."""

    size: int = 0
    root: bytes = b""
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when every entry and every checkpoint verified."""
        return not self.problems

    def add(self, problem: Problem) -> None:
        """Record a problem (keeping the first fifty)."""
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.truncated = True


def parse_tree_head(token: str) -> TreeHead:
    """Parse ``SIZE:ROOT`` (root as 64 hex digits)."""
    size_text, _, root_text = token.strip().partition(":")
    try:
        size = int(size_text)
        root = bytes.fromhex(root_text)
    except ValueError as exc:
        raise ValueError(f"bad tree head {token!r}: expected SIZE:ROOT with ROOT in hex") from exc
    if size < 0 or len(root) != 32:
        raise ValueError(f"bad tree head {token!r}: ROOT must be 64 hex digits")
    return TreeHead(size, root)


_Entry = tuple[int, str, tuple[object, ...], bytes]


def _stream(conn: Connection, table: str, columns: Sequence[str]) -> Iterator[_Entry]:
    sql = (
        f"SELECT position, {', '.join(columns)}, leaf_hash FROM {table} "
        "WHERE position IS NOT NULL ORDER BY position"
    )
    result = conn.exec_driver_sql(
        sql, execution_options={"stream_results": True, "yield_per": 10_000}
    )
    for row in result:
        yield int(row[0]), table, tuple(row[1:-1]), bytes(row[-1])


def verify_ledger(
    conn: Connection,
    against: TreeHead | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Recompute all leaf hashes and checkpoint roots of the main tree; optionally check an
    outside tree head."""
    return verify_tree(conn, CONTENT_COLUMNS, "checkpoints", against, progress)


def verify_tree(
    conn: Connection,
    tables: Mapping[str, Sequence[str]],
    checkpoints: str,
    against: TreeHead | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Recompute the leaf hashes of the entries in ``tables`` (hashed columns of each) and the
    roots of the checkpoints in the table ``checkpoints``, for one tree."""
    result = Verification()
    heads = {
        int(size): bytes(root)
        for size, root in conn.exec_driver_sql(
            f"SELECT size, root FROM {checkpoints} ORDER BY size"
        )
    }
    result.checkpoints = len(heads)
    frontier = Frontier()
    expected = 0
    streams = (_stream(conn, table, columns) for table, columns in tables.items())
    merged = heapq.merge(*streams, key=lambda e: e[0])
    for position, table, values, stored in merged:
        if position < expected:
            result.add(Problem(position, f"appears twice ({entry_label(table, values)})"))
            continue
        if position > expected:
            gap = f"{expected}" if position == expected + 1 else f"{expected} to {position - 1}"
            result.add(Problem(expected, f"missing: position {gap} was deleted"))
            while frontier.size < position:  # keep later positions comparable
                frontier.append(b"\x00" * 32)
        digest = entry_hash(table, position, values)
        if digest != stored:
            result.add(
                Problem(
                    position,
                    f"{entry_label(table, values)} does not match its recorded hash "
                    "(modified, or moved from another position)",
                )
            )
        frontier.append(digest)
        expected = position + 1
        if expected in heads and frontier.root() != heads[expected]:
            result.add(
                Problem(
                    None,
                    f"the checkpoint at size {expected} does not match the entries before it "
                    "(an entry and its stored hash were both rewritten)",
                )
            )
        if against is not None and expected == against.size:
            _check_against(result, frontier, against)
        if progress is not None and expected % 10_000 == 0:
            progress(expected)
    size = frontier.size
    _check_end(result, heads, size, against)
    result.size = size
    result.root = frontier.root()
    return result


def _check_against(result: Verification, frontier: Frontier, against: TreeHead) -> None:
    if frontier.root() != against.root:
        result.add(
            Problem(
                None,
                f"the first {against.size} entries no longer hash to the outside tree head "
                f"{against.token}: history was rewritten",
            )
        )


def _check_end(
    result: Verification, heads: dict[int, bytes], size: int, against: TreeHead | None
) -> None:
    """What the end of the log says: checkpoints beyond it, entries after the last checkpoint,
    an outside tree head that it no longer reaches."""
    beyond = sorted(s for s in heads if s > size)
    if beyond:
        result.add(
            Problem(
                size,
                f"missing: the checkpoint at size {beyond[-1]} covers entries up to "
                f"{beyond[-1] - 1}, but the log ends before entry {size}",
            )
        )
    last = max(heads, default=0)
    if size > last:
        result.add(
            Problem(
                last,
                f"entries {last} to {size - 1} are not covered by any checkpoint "
                "(written behind the ledger's back)",
            )
        )
    if against is not None:
        if against.size == 0:
            _check_against(result, Frontier(), against)
        elif against.size > size:
            result.add(
                Problem(
                    None,
                    f"the log has {size} entries, fewer than the {against.size} of the outside "
                    f"tree head {against.token}: it shrank",
                )
            )
