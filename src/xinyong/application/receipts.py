"""Receipts for the service's decisions: the signed statement every check answer carries
(:mod:`xinyong.decisions.receipts`), with what it needs cached.

A receipt names the relying party's purpose and the tree head at the decision's ledger size.
Both are read once and kept: a tree head never changes (the log only grows), and a purpose
for ``cache_seconds`` like the party's registration. :meth:`Receipts.peek` makes a receipt from
the caches alone (no database work, for the event loop); :meth:`Receipts.make` reads what is
missing. An adverse answer's receipt proves the entries it rests on, so it is always made by
:meth:`Receipts.make`, off the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from xinyong.decisions.checks import Decision
from xinyong.decisions.receipts import grounds_named, receipt
from xinyong.ledger.append import TreeHead, read_checkpoint
from xinyong.ledger.proofs import prove_inclusions, record_entries
from xinyong.ledger.schema import relying_parties
from xinyong.ledger.signing import LedgerKey
from xinyong.ttl import MISSING, TtlCache

__all__ = ["Receipts"]

_HEADS = 256
"""Tree heads kept (one per batch appended while checks are answered)."""
_GROUNDS = 1_024
"""Proven grounds kept (one per listed subject checked at a ledger size)."""
_KEPT_GROUNDS = 64
"""The most entries one kept set of grounds may have (about 1.5 KB of proof each)."""


class Receipts:
    """Makes receipts with the ledger's key, caching purposes and tree heads."""

    def __init__(self, engine: Engine, cache_seconds: float) -> None:
        self._engine = engine
        self._purposes: TtlCache[str, str] = TtlCache(cache_seconds, max_entries=10_000)
        self._heads: dict[int, TreeHead] = {}
        self._proven: dict[tuple[TreeHead, frozenset[tuple[str, str]]], list[dict[str, object]]]
        self._proven = {}
        self._lock = threading.Lock()  # worker threads fill the heads concurrently

    def peek(
        self,
        key: LedgerKey,
        decision: Decision,
        overrides: Sequence[dict[str, str]],
        notice: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The receipt from the caches only; None when something must be read first (always
        for an adverse answer, one with a ``notice``)."""
        if notice is not None:
            return None
        purpose = self._purposes.peek(decision.relying_party)
        head = self._heads.get(decision.known_at)
        if purpose is MISSING or head is None:
            return None
        return receipt(key, decision, purpose, overrides, head)

    def make(
        self,
        key: LedgerKey,
        decision: Decision,
        overrides: Sequence[dict[str, str]],
        conn: Connection | None = None,
        notice: Mapping[str, Any] | None = None,
    ) -> str:
        """The receipt, reading the purpose and tree head if they are not cached; with the
        decision's adverse ``notice``, proving the entries of the records it names."""
        found = self.peek(key, decision, overrides, notice)
        if found is not None:
            return found
        if conn is None:
            with self._engine.connect() as own:
                return self.make(key, decision, overrides, own, notice)
        purpose = self._purposes.get(
            decision.relying_party, lambda: _purpose(conn, decision.relying_party)
        )
        # An adverse answer's grounds are proven against the checkpoint as the database holds it
        # now, never a kept one: a ledger restored from a backup may have grown differently.
        head = self._heads.get(decision.known_at) if notice is None else None
        if head is None:
            head = read_checkpoint(conn, decision.known_at)
            if head is None:
                raise ValueError(f"no checkpoint at the decision's ledger size {decision.known_at}")
            with self._lock:
                if len(self._heads) >= _HEADS:
                    self._heads.pop(next(iter(self._heads)), None)
                self._heads[decision.known_at] = head
        grounds = None
        if notice is not None:
            grounds = self._grounds(conn, notice, head)
        return receipt(key, decision, purpose, overrides, head, grounds)

    def _grounds(
        self, conn: Connection, notice: Mapping[str, Any], head: TreeHead
    ) -> list[dict[str, object]]:
        """The proven entries of the records ``notice`` names, in the tree of ``head`` (kept:
        the checks of one listed subject at one ledger size rest on the same entries)."""
        size = head.size
        named = (head, frozenset(grounds_named(notice)))  # the head: a restored ledger's differs
        found = self._proven.get(named)
        if found is None:
            entries = record_entries(conn, sorted(named[1]), size)
            found = prove_inclusions(conn, entries, size, head=head)
            if len(found) > _KEPT_GROUNDS:  # a long record: proven each time, not kept
                return found
            with self._lock:
                if len(self._proven) >= _GROUNDS:
                    self._proven.pop(next(iter(self._proven)), None)
                self._proven[named] = found
        return found


def _purpose(conn: Connection, relying_party: str) -> str:
    row = conn.execute(
        select(relying_parties.c.purpose).where(relying_parties.c.name == relying_party)
    ).first()
    return "" if row is None else str(row[0])
