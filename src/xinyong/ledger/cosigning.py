"""Witness cosignatures of checkpoints, in the C2SP tlog-cosignature format (Ed25519,
``cosignature/v1``).

A cosignature is one more signature line on the checkpoint's signed note:

    — <witness name> base64(key ID || u64 big-endian timestamp || Ed25519 signature)

with the key ID ``SHA-256(name || "\\n" || 0x04 || public key)[:4]``, and the signature over

    cosignature/v1
    time <POSIX seconds>
    <the checkpoint's note text>

It states that, at that time, the checkpoint was the largest consistent tree head the witness
had seen of the log. A witness's verifier key is ``name+keyid+base64(0x04 || public key)``.
The witness's key file is the same ``PRIVATE+KEY`` file as the ledger's
(:func:`~xinyong.ledger.signing.load_or_create_key`): the private key is the same kind, only the
signature it makes differs.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from xinyong.ledger.signing import SIGNATURE_PREFIX, LedgerKey, key_id_of, parse_verifier_key

__all__ = [
    "COSIGNATURE_V1",
    "MAX_NAME",
    "Cosignature",
    "CosignatureVerifier",
    "cosign",
    "cosigner_key",
    "signature_lines",
    "without_signer",
]

COSIGNATURE_V1 = 0x04
"""The signature type of Ed25519 cosignatures (key IDs and verifier keys)."""
_HEADER = "cosignature/v1\n"
_MAX_TIME = 2**63 - 1
MAX_NAME = 255
"""The longest witness name taken (the stored column's width)."""


def _key_id(name: str, public: bytes) -> bytes:
    return key_id_of(name, public, COSIGNATURE_V1)


def _message(text: str, when: int) -> bytes:
    return f"{_HEADER}time {when}\n{text}".encode()


def cosigner_key(key: LedgerKey) -> str:
    """The witness's verifier key for cosignatures: ``name+keyid+base64(0x04 || key)``."""
    encoded = base64.b64encode(bytes([COSIGNATURE_V1]) + key.public).decode()
    return f"{key.name}+{_key_id(key.name, key.public).hex()}+{encoded}"


def cosign(key: LedgerKey, note: str, text: str, when: int) -> str:
    """``note`` (a checkpoint signed by the log, whose text is ``text``) with the witness's
    cosignature at POSIX time ``when`` added."""
    if not 0 <= when <= _MAX_TIME:
        raise ValueError("a cosignature's time is from 0 to 2^63 - 1")
    signature = key.private.sign(_message(text, when))
    blob = _key_id(key.name, key.public) + struct.pack(">Q", when) + signature
    return f"{note}{SIGNATURE_PREFIX}{key.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True, slots=True)
class Cosignature:
    """One verified cosignature: the witness, when it signed, and its signature line."""

    witness: str
    key_id: bytes
    signed_at: int
    line: str


@dataclass(frozen=True)
class CosignatureVerifier:
    """Verifies one witness's cosignatures (its verifier key, type 0x04)."""

    name: str
    key_id: bytes
    public: Ed25519PublicKey

    @classmethod
    def from_text(cls, text: str) -> CosignatureVerifier:
        """A verifier from the witness's verifier key (ValueError naming what is wrong)."""
        name, key_id, public = parse_verifier_key(text, COSIGNATURE_V1)
        if len(name) > MAX_NAME:
            raise ValueError(f"a witness's name is at most {MAX_NAME} characters")
        return cls(name, key_id, public)

    def find(self, note: str, text: str) -> Cosignature | None:
        """This witness's newest cosignature of ``text`` among ``note``'s signature lines that
        verify (None when none does: lines of this witness that do not verify, such as one of
        a checkpoint text that has since changed, are skipped)."""
        found = None
        for line in signature_lines(note):
            checked = self.check(line, text)
            if checked is not None and (found is None or checked.signed_at > found.signed_at):
                found = checked
        return found

    def check(self, line: str, text: str) -> Cosignature | None:
        """The cosignature in ``line`` when it is this witness's and verifies over ``text``."""
        if not line.startswith(f"{SIGNATURE_PREFIX}{self.name} "):
            return None
        try:
            blob = base64.b64decode(line.rpartition(" ")[2], validate=True)
        except ValueError:
            return None
        if blob[:4] != self.key_id or len(blob) != 4 + 8 + 64:
            return None
        (when,) = struct.unpack(">Q", blob[4:12])
        if when > _MAX_TIME:
            return None
        try:
            self.public.verify(blob[12:], _message(text, when))
        except InvalidSignature:
            return None
        return Cosignature(self.name, self.key_id, when, line)


def signature_lines(note: str) -> list[str]:
    """The signature lines of a signed note (after its last blank line)."""
    return [line for line in note.rstrip("\n").rpartition("\n\n")[2].split("\n") if line]


def without_signer(note: str, name: str) -> str:
    """``note`` without the signature lines of ``name`` (a witness re-cosigning drops its own
    older cosignature)."""
    text, _, _ = note.rstrip("\n").rpartition("\n\n")
    kept = [
        line for line in signature_lines(note) if not line.startswith(f"{SIGNATURE_PREFIX}{name} ")
    ]
    return f"{text}\n\n" + "".join(f"{line}\n" for line in kept)
