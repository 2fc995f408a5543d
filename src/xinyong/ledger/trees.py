"""The ledger's Merkle trees, each with its entry tables, its checkpoints and its origin.

- the **main tree**: what is furnished (subjects, records, events on them);
- the **operations log**: every state an operational row took (:mod:`xinyong.ledger.operations`);
- the **inquiry log**: every check, as it was answered (:mod:`xinyong.ledger.inquiry_tree`).

Each is its own RFC 6962 tree with its own signed checkpoint, served under its own path, so
that a witness can keep each. The ledger's one key signs all three, each under its origin (the
ledger's origin followed by :attr:`Tree.suffix`): a checkpoint's origin is its key's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from xinyong.ledger.entries import CONTENT_COLUMNS, INQUIRY_COLUMNS, OPERATION_COLUMNS
from xinyong.ledger.schema import (
    checkpoints,
    events,
    inquiries,
    inquiry_checkpoints,
    operation_checkpoints,
    operations,
    records,
    subjects,
)

__all__ = ["INQUIRIES", "MAIN", "OPERATIONS", "TREES", "Tree"]


@dataclass(frozen=True, slots=True)
class Tree:
    """One of the ledger's Merkle trees."""

    name: str
    """How messages name it."""
    entries: tuple[Table, ...]
    """The tables whose rows are its leaves (by ``position``)."""
    heads: Table
    """Its checkpoints."""
    suffix: str
    """Its origin is the ledger's followed by this."""

    def columns(self) -> dict[str, tuple[str, ...]]:
        """The hashed columns of each entry table."""
        return {table.name: _COLUMNS[table.name] for table in self.entries}


_COLUMNS: dict[str, tuple[str, ...]] = {
    **CONTENT_COLUMNS,
    "operations": OPERATION_COLUMNS,
    "inquiries": INQUIRY_COLUMNS,
}

MAIN = Tree("ledger", (subjects, records, events), checkpoints, "")
OPERATIONS = Tree("operations log", (operations,), operation_checkpoints, "/operations")
INQUIRIES = Tree("inquiry log", (inquiries,), inquiry_checkpoints, "/inquiries")
TREES = {"ledger": MAIN, "operations": OPERATIONS, "inquiries": INQUIRIES}
"""By the name the CLI and the routes use."""
