"""Merkle proofs from kept subtree roots: O(log n) hashes per proof instead of O(n).

The reference (:func:`xinyong.ledger.merkle.inclusion_proof`, :func:`~xinyong.ledger.merkle.
consistency_proof`) hashes every leaf of the tree for every proof. :class:`Subtrees` keeps the
roots of the complete, aligned subtrees of ``2**low`` leaves and more (``low`` = 6: a 64th of
the tree, 10 MB for 10M entries), extended as the log grows, and computes ``MTH(D[a:b])`` by
the RFC's own split: every range a proof needs is a complete aligned subtree (kept) or a
right edge that splits into kept subtrees and at most ``2**low`` leaves, read by position.

The proofs are the reference's, node for node: ``tests/ledger/test_subtrees.py`` compares them
under hypothesis, with small ``low`` so that every branch is taken.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from xinyong.ledger.merkle import node_hash, root_of

__all__ = ["ReadLeaves", "Subtrees", "blockwise", "proof_blocks"]

ReadLeaves = Callable[[int, int], Sequence[bytes]]
"""``read(start, end)``: the leaf hashes of positions ``start`` to ``end - 1``, in order."""


def blockwise(
    read: ReadLeaves, low: int, limit: int, blocks: dict[int, Sequence[bytes]] | None = None
) -> ReadLeaves:
    """``read``, one aligned block of ``2**low`` leaves (cut at ``limit``) at a time, each block
    read once: the ranges one proof reads all lie in a few blocks. ``blocks``: those already
    read (by number), for instance all that a proof is known to need, in one statement."""
    size = 1 << low
    blocks = {} if blocks is None else blocks

    def cached(start: int, end: int) -> list[bytes]:
        found: list[bytes] = []
        for block in range(start >> low, ((end - 1) >> low) + 1):
            leaves = blocks.get(block)
            if leaves is None:
                first = block << low
                leaves = blocks[block] = read(first, min(first + size, limit))
            first = block << low
            found.extend(leaves[max(start, first) - first : min(end, first + size) - first])
        return found

    return cached


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def proof_blocks(low: int, indices: Iterable[int], size: int) -> list[int]:
    """The blocks of ``2**low`` leaves that the inclusion proofs of ``indices`` in the tree of
    ``size`` leaves read, given kept subtrees covering ``size``: each index's own block (the
    path's lowest nodes) and the tree's last block when it is incomplete (its right edge, which
    no kept root covers); nothing else is read (``tests/ledger/test_subtrees.py``)."""
    wanted = {index >> low for index in indices}
    if size % (1 << low):
        wanted.add((size - 1) >> low)
    return sorted(wanted)


class Subtrees:
    """Kept subtree roots of a log's first :attr:`size` leaves, and the proofs they give."""

    def __init__(self, low: int = 6) -> None:
        self.low = low
        self.size = 0
        self._levels: list[list[bytes]] = []
        """``_levels[i][j]``: the root of leaves ``j * 2**(low+i)`` to ``(j+1) * 2**(low+i)``."""
        self._pending: list[bytes] = []
        """The leaves after the last complete block of ``2**low``."""
        self._lock = threading.Lock()

    def extend(self, read: ReadLeaves, size: int) -> None:
        """Cover the first ``size`` leaves (reading only those not covered yet)."""
        with self._lock:
            if size <= self.size:
                return
            block = 1 << self.low
            for leaf in read(self.size, size):
                self._pending.append(leaf)
                if len(self._pending) == block:
                    self._add(0, root_of(self._pending))
                    self._pending = []
            self.size = size

    def agrees(self, blocks: Mapping[int, Sequence[bytes]]) -> bool:
        """Whether these blocks of leaves (by number), each complete, hash to the roots kept
        for them: the leaves a proof reads in the entry's own block are not checked by the
        tree's root, which the kept roots give (an edited leaf would be proven, not refused).
        Incomplete blocks, and blocks not kept, are not checked here."""
        kept = self._levels[0] if self._levels else []
        return all(
            root_of(leaves) == kept[n]
            for n, leaves in blocks.items()
            if n < len(kept) and len(leaves) == 1 << self.low
        )

    def _add(self, level: int, node: bytes) -> None:
        while True:
            if level == len(self._levels):
                self._levels.append([])
            nodes = self._levels[level]
            nodes.append(node)
            if len(nodes) % 2:
                return
            node, level = node_hash(nodes[-2], nodes[-1]), level + 1

    def _mth(self, read: ReadLeaves, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for a range a proof needs (``start`` a multiple of the largest
        power of two not above ``end - start``, as the RFC's split gives)."""
        n = end - start
        height = n.bit_length() - 1
        if n == 1 << height and height >= self.low and start % n == 0:
            nodes = self._levels[height - self.low]
            index = start >> height
            if index < len(nodes):
                return nodes[index]
        if n <= 1 << self.low:
            return root_of(read(start, end))
        k = _largest_power_of_two_below(n)
        return node_hash(self._mth(read, start, start + k), self._mth(read, start + k, end))

    def root(self, read: ReadLeaves, size: int) -> bytes:
        """MTH(D[0:size]); the tree must be covered."""
        if not 0 < size <= self.size:
            raise ValueError("the size must be from 1 to the size covered")
        return self._mth(read, 0, size)

    def inclusion(self, read: ReadLeaves, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 2.1.3.1; the tree must be covered."""
        if not 0 <= index < size <= self.size:
            raise ValueError("index must be below the size, and the size covered")
        path: list[bytes] = []
        start, end, m = 0, size, index
        while end - start > 1:
            k = _largest_power_of_two_below(end - start)
            if m < k:
                path.append(self._mth(read, start + k, end))
                end = start + k
            else:
                path.append(self._mth(read, start, start + k))
                start, m = start + k, m - k
        return path[::-1]

    def consistency(self, read: ReadLeaves, first: int, size: int) -> list[bytes]:
        """PROOF(first, D[0:size]) of RFC 9162 2.1.4.1; the tree must be covered."""
        if not 0 < first <= size <= self.size:
            raise ValueError("first must be from 1 to the size, and the size covered")
        proof: list[bytes] = []
        start, end, m, complete = 0, size, first, True
        while True:
            n = end - start
            if m == n:
                if not complete:
                    proof.append(self._mth(read, start, end))
                break
            k = _largest_power_of_two_below(n)
            if m <= k:
                proof.append(self._mth(read, start + k, end))
                end = start + k
            else:
                proof.append(self._mth(read, start, start + k))
                start, m, complete = start + k, m - k, False
        return proof[::-1]
