"""RFC 6962 Merkle tree: published test vectors, the frontier, consistency proofs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import rfc6962
from xinyong.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# The Certificate Transparency reference test vectors (RFC 6962 leaves and roots, as used in the
# certificate-transparency and Trillian test suites).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_tree_is_hash_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_vectors(size: int) -> None:
    leaves = [leaf_hash(data) for data in CT_LEAVES[:size]]
    frontier = Frontier()
    frontier.extend(leaves)
    assert frontier.root().hex() == CT_ROOTS[size - 1]
    assert root_of(leaves).hex() == CT_ROOTS[size - 1]


@given(st.lists(st.binary(max_size=8), max_size=70), st.integers(0, 70))
def test_frontier_matches_recursive_definition(data: list[bytes], split: int) -> None:
    leaves = [leaf_hash(d) for d in data]
    frontier = Frontier()
    frontier.extend(leaves[:split])
    stored = Frontier.from_text(frontier.size, frontier.to_text())  # as a checkpoint keeps it
    stored.extend(leaves[split:])
    assert stored.root() == root_of(leaves)


@given(st.integers(0, 300), st.integers(0, 300))
def test_extend_is_append_one_at_a_time(before: int, added: int) -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(before + added)]
    one_by_one, batched = Frontier(), Frontier()
    for leaf in leaves[:before]:
        one_by_one.append(leaf)
    batched.extend(leaves[:before])
    for leaf in leaves[before:]:
        one_by_one.append(leaf)
    batched.extend(leaves[before:])
    assert (batched.size, batched.hashes, batched.root()) == (
        one_by_one.size,
        one_by_one.hashes,
        one_by_one.root(),
    )
    assert Frontier.from_text(batched.size, batched.to_text()).root() == root_of(leaves)


def test_frontier_rejects_wrong_hash_count() -> None:
    with pytest.raises(ValueError, match="needs 2 hashes"):
        Frontier(3, [b"\x00" * 32])


@pytest.mark.parametrize("new_size", [1, 2, 3, 5, 8, 13, 16, 33])
def test_consistency_proofs_verify_for_every_prefix(new_size: int) -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(new_size)]
    new_root = root_of(leaves)
    for old_size in range(1, new_size + 1):
        old_root = root_of(leaves[:old_size])
        proof = consistency_proof(leaves, old_size)
        assert verify_consistency(old_size, old_root, new_size, new_root, proof)
        if old_size < new_size:
            forged = leaves.copy()
            forged[old_size - 1] = leaf_hash(b"forged")
            assert not verify_consistency(
                old_size, root_of(forged[:old_size]), new_size, new_root, proof
            )
            assert not verify_consistency(old_size, old_root, new_size, new_root, proof[:-1])


def test_consistency_proof_bounds() -> None:
    with pytest.raises(ValueError, match="old_size"):
        consistency_proof([leaf_hash(b"a")], 2)
    assert not verify_consistency(3, EMPTY_ROOT, 2, EMPTY_ROOT, [])


@given(st.integers(1, 70), st.data())
def test_inclusion_and_consistency_proofs_pass_an_independent_verifier(
    size: int, data: st.DataObject
) -> None:
    """RFC 9162 proofs, checked by tests/support/rfc6962.py (written from the RFC, importing
    nothing of xinyong) against its own tree hash."""
    leaves = [leaf_hash(str(i).encode()) for i in range(size)]
    root = rfc6962.mth(leaves)
    index = data.draw(st.integers(0, size - 1))
    path = inclusion_proof(leaves, index)
    assert rfc6962.verify_inclusion(leaves[index], index, size, path, root)
    if path:  # a wrong index or a changed node fails
        assert not rfc6962.verify_inclusion(leaves[index], index ^ 1, size, path, root) or (
            leaves[index] == leaves[index ^ 1]
        )
        bad = [bytes(32), *path[1:]]
        assert not rfc6962.verify_inclusion(leaves[index], index, size, bad, root)
    first = data.draw(st.integers(1, size))
    proof = consistency_proof(leaves, first)
    assert rfc6962.verify_consistency(first, size, rfc6962.mth(leaves[:first]), root, proof)
    if first < size:  # a tree that does not extend the first one fails
        forked = [leaf_hash(b"fork"), *leaves[1:first]]
        assert not rfc6962.verify_consistency(first, size, rfc6962.mth(forked), root, proof)


@given(st.integers(1, 70), st.data())
def test_verify_inclusion_agrees_with_an_independent_verifier(
    size: int, data: st.DataObject
) -> None:
    """xinyong's own inclusion check (the one ``xinyong verify report`` runs) accepts exactly
    the proofs the independent verifier accepts: right ones, and wrong index, size, leaf or
    node."""
    leaves = [leaf_hash(str(i).encode()) for i in range(size)]
    root = rfc6962.mth(leaves)
    index = data.draw(st.integers(0, size - 1))
    path = inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, size, path, root)
    other = data.draw(st.integers(0, size + 2))
    tree = data.draw(st.integers(1, size + 2))
    leaf = data.draw(st.sampled_from([leaves[index], leaf_hash(b"x")]))
    tampered = [*path]
    if tampered and data.draw(st.booleans()):
        tampered[data.draw(st.integers(0, len(tampered) - 1))] = bytes(32)
    expected = rfc6962.verify_inclusion(leaf, other, tree, tampered, root)
    assert verify_inclusion(leaf, other, tree, tampered, root) == expected
