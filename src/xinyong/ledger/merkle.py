"""RFC 6962 (Certificate Transparency) Merkle tree hashing.

Every ledger entry is a leaf: ``leaf = SHA-256(0x00 || data)``; interior nodes are
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves splits at the largest power of two
below ``n`` (RFC 6962 section 2.1). The domain-separation bytes stop a leaf from posing as a node.

Appending only needs the *frontier*: the roots of the perfect subtrees that make up the tree,
largest first (one per set bit of the size). It is stored with each checkpoint, so a batch extends
the tree in O(batch) hashes without reading old leaves.

Inclusion proofs (RFC 9162 section 2.1.3) show that an entry is in the tree; consistency proofs
(section 2.1.4) let anyone holding an old ``size:root`` check that
the current tree extends it without downloading the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf's data."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash of leaf hashes, straight from the RFC's recursive definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = _largest_power_of_two_below(len(leaves))
    return node_hash(root_of(leaves[:split]), root_of(leaves[split:]))


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class Frontier:
    """Roots of the perfect subtrees of a tree of ``size`` leaves, largest first."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)
    _heights: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        heights = [bit for bit in range(self.size.bit_length() - 1, -1, -1) if self.size >> bit & 1]
        if len(heights) != len(self.hashes):
            raise ValueError(f"a frontier of size {self.size} needs {len(heights)} hashes")
        self._heights = heights

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        hashes, heights = self.hashes, self._heights
        node, height = leaf, 0
        while heights and heights[-1] == height:
            node = node_hash(hashes.pop(), node)
            heights.pop()
            height += 1
        hashes.append(node)
        heights.append(height)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add leaf hashes in order: what :meth:`append` of each gives, a level at a time.

        At height ``h`` the new nodes start at index ``size >> h``; when that index is odd, the
        frontier's subtree of height ``h`` is the left sibling of the first of them. Nodes are
        paired, and a last unpaired node stays in the frontier at its height.
        """
        nodes = list(leaves)
        hashes, heights = self.hashes, self._heights
        start, height = self.size, 0
        self.size += len(nodes)
        kept: list[tuple[int, bytes]] = []
        sha256 = hashlib.sha256
        while nodes:
            if start & 1:  # the frontier's last subtree has this height: it is the left sibling
                heights.pop()
                nodes = [hashes.pop(), *nodes]
            if len(nodes) & 1:
                kept.append((height, nodes.pop()))
            pairs = zip(nodes[::2], nodes[1::2], strict=True)
            nodes = [sha256(b"\x01" + left + right).digest() for left, right in pairs]
            start >>= 1
            height += 1
        for node_height, node in reversed(kept):
            hashes.append(node)
            heights.append(node_height)

    def root(self) -> bytes:
        """The tree head: fold the subtree roots from the smallest up."""
        if not self.hashes:
            return EMPTY_ROOT
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = node_hash(left, node)
        return node

    def copy(self) -> Frontier:
        """An independent copy (appending to it leaves this one unchanged)."""
        return Frontier(self.size, list(self.hashes))

    def to_text(self) -> str:
        """Hex hashes joined by commas, as stored in ``checkpoints.frontier``."""
        return ",".join(h.hex() for h in self.hashes)

    @classmethod
    def from_text(cls, size: int, text: str) -> Frontier:
        """Inverse of :meth:`to_text`."""
        return cls(size, [bytes.fromhex(part) for part in text.split(",") if part])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree over ``leaves`` (RFC 9162 section 2.1.3.1:
    PATH(m, D[n]))."""
    if not 0 <= index < len(leaves):
        raise ValueError("index must be below the tree size")
    return _path(index, leaves)


def _path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*_path(m, leaves[:k]), root_of(leaves[k:])]
    return [*_path(m - k, leaves[k:]), root_of(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """Proof that the tree over ``leaves[:old_size]`` is a prefix of the tree over ``leaves``."""
    if not 0 < old_size <= len(leaves):
        raise ValueError("old_size must be between 1 and the current size")
    return _subproof(old_size, leaves, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_of(leaves)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete=complete), root_of(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], complete=False), root_of(leaves[:k])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof (the verification algorithm of RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, old_root: bytes, new_size: int, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof (the verification algorithm of RFC 9162 section 2.1.4.2)."""
    if old_size == new_size:
        return old_root == new_root and not proof
    if not 0 < old_size < new_size:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
