"""An independent verifier of the ledger's proofs and signed checkpoints, written from the specs
(RFC 9162 sections 2.1.3.2 and 2.1.4.2; c2sp.org/tlog-checkpoint and c2sp.org/signed-note), not
from xinyong's code: it imports nothing from ``xinyong``, so a shared mistake cannot pass both.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1, over leaf hashes."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return _node(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2 (with first == second: an empty path and equal roots)."""
    if first == second:
        return not path and first_root == second_root
    if not 0 < first < second:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def open_checkpoint(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """The origin, size and root of a checkpoint note signed by ``verifier_key``
    (``name+keyid+base64(0x01 || key)``); AssertionError when it does not verify."""
    text = open_note(note, verifier_key)
    origin, size, root = text.rstrip("\n").split("\n")[:3]
    return origin, int(size), base64.b64decode(root)


def open_note(note: str, verifier_key: str) -> str:
    """The text of a signed note signed by ``verifier_key``; AssertionError (or the signature
    library's InvalidSignature) when it does not verify."""
    name, key_id, encoded = verifier_key.strip().split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1, "not an Ed25519 verifier key"
    public = raw[1:]
    expected_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    assert expected_id.hex() == key_id, "the verifier key's id does not match its key"
    text, _, signatures = note.rstrip("\n").rpartition("\n\n")
    text += "\n"
    ok = False
    for line in signatures.split("\n"):
        assert line.startswith("\u2014 "), f"not a signature line: {line!r}"
        signer, _, signature = line[2:].partition(" ")
        blob = base64.b64decode(signature)
        if signer == name and blob[:4] == expected_id:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            ok = True
    assert ok, "no signature by the verifier key"
    return text


def open_cosignature(note: str, name: str, public: bytes) -> int:
    """The POSIX time of witness ``name``'s Ed25519 cosignature (c2sp.org/tlog-cosignature,
    ``cosignature/v1``) of the checkpoint in ``note``, checked with its raw 32-byte ``public``
    key; AssertionError (or InvalidSignature) when there is none or it does not verify."""
    text = note.rstrip("\n").rpartition("\n\n")[0] + "\n"
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    for line in note.rstrip("\n").rpartition("\n\n")[2].split("\n"):
        signer, _, signature = line[2:].partition(" ")
        blob = base64.b64decode(signature)
        if signer != name or blob[:4] != key_id:
            continue
        assert len(blob) == 76, "an Ed25519 cosignature is key ID, timestamp and signature"
        when = int.from_bytes(blob[4:12], "big")
        message = f"cosignature/v1\ntime {when}\n{text}".encode()
        Ed25519PublicKey.from_public_bytes(public).verify(blob[12:], message)
        return when
    raise AssertionError(f"no cosignature by {name}")
