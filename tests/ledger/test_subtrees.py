"""Proofs from kept subtree roots are the reference proofs, node for node."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, root_of
from xinyong.ledger.subtrees import Subtrees, blockwise, proof_blocks

_LOGS = {
    "low": st.integers(0, 3),  # small blocks, so that every branch is taken
    "chunks": st.lists(st.integers(1, 40), min_size=1, max_size=6),  # the batches appended
}


@settings(max_examples=300, deadline=None)
@given(**_LOGS, data=st.data())
def test_kept_subtrees_give_the_reference_proofs(
    low: int, chunks: list[int], data: st.DataObject
) -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(sum(chunks))]
    reads: list[tuple[int, int]] = []

    def read(start: int, end: int) -> list[bytes]:
        reads.append((start, end))
        return leaves[start:end]

    kept = Subtrees(low)
    covered = 0
    for chunk in chunks:  # the log grows in batches; each is read once
        covered += chunk
        reads.clear()
        kept.extend(read, covered)
        assert reads == [(covered - chunk, covered)]
        size = data.draw(st.integers(1, covered))
        assert kept.root(read, size) == root_of(leaves[:size])
        index = data.draw(st.integers(0, size - 1))
        assert kept.inclusion(read, index, size) == inclusion_proof(leaves[:size], index)
        first = data.draw(st.integers(1, size))
        assert kept.consistency(read, first, size) == consistency_proof(leaves[:size], first)
        # read a block at a time, a proof reads each block once, and gives the same proof
        reads.clear()
        blocks = blockwise(read, low, size)
        assert kept.inclusion(blocks, index, size) == inclusion_proof(leaves[:size], index)
        assert kept.consistency(blocks, first, size) == consistency_proof(leaves[:size], first)
        assert len(reads) == len(set(reads))
        assert all(start % (1 << low) == 0 and end - start <= 1 << low for start, end in reads)


@settings(max_examples=300, deadline=None)
@given(**_LOGS, data=st.data())
def test_the_blocks_read_ahead_are_all_that_inclusion_proofs_read(
    low: int, chunks: list[int], data: st.DataObject
) -> None:
    """With the blocks :func:`proof_blocks` names read ahead, a tree's root and the inclusion
    proofs of the given entries read nothing else, and are the reference's."""
    leaves = [leaf_hash(str(i).encode()) for i in range(sum(chunks))]
    kept = Subtrees(low)
    covered = 0
    for chunk in chunks:
        covered += chunk
        kept.extend(lambda start, end: leaves[start:end], covered)
    size = data.draw(st.integers(1, covered))
    indices = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=4))
    block = 1 << low
    ahead: dict[int, Sequence[bytes]] = {
        n: leaves[n * block : min((n + 1) * block, size)] for n in proof_blocks(low, indices, size)
    }

    def unexpected(start: int, end: int) -> list[bytes]:
        raise AssertionError(f"read {start} to {end}, not read ahead")

    read = blockwise(unexpected, low, size, ahead)
    assert kept.root(read, size) == root_of(leaves[:size])
    for index in indices:
        assert read(index, index + 1) == [leaves[index]]
        assert kept.inclusion(read, index, size) == inclusion_proof(leaves[:size], index)
