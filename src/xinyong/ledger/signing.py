"""The ledger's signing key and its signed checkpoints, in the C2SP formats.

- **Checkpoint** (c2sp.org/tlog-checkpoint): the note text ``origin\\nsize\\nbase64(root)\\n``,
  the root the RFC 6962 Merkle tree hash of the ledger's first ``size`` entries.
- **Signed note** (c2sp.org/signed-note): the text, a blank line, and one signature line per
  key: ``— <key name> base64(key ID || Ed25519 signature of the text)``, the key ID the first
  four bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)``.
- **Verifier key** (as golang.org/x/mod/sumdb/note writes it): ``<name>+<key ID as 8 hex
  digits>+base64(0x01 || public key)``; the key file holds the private key the same way, as
  ``PRIVATE+KEY+<name>+<key ID>+base64(0x01 || 32-byte seed)``.

The key's name is the checkpoint's origin. The key lives in a file, never in the database: an
attacker who can rewrite the database cannot sign a rewritten tree. It is created on first use
(mode 0600, written to a temporary file and linked into place, so two processes starting at once
end up with the same key), or named by the ``signing_key`` setting; see docs/verify.md for
rotation. Ed25519 signatures are deterministic: the same tree head always gets the same note.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "NAME",
    "Checkpoint",
    "KeyFileError",
    "LedgerKey",
    "NoteVerifier",
    "checkpoint_text",
    "key_id_of",
    "load_or_create_key",
    "parse_checkpoint",
    "parse_verifier_key",
]

ED25519 = 0x01
"""The signature type byte of Ed25519 in signed notes."""
SIGNATURE_PREFIX = "\u2014 "
"""A signature line starts with an em dash and a space."""
NAME = re.compile(r"[^\s+]+")
"""A key name: no spaces and no '+' (the separator of verifier keys)."""
_DIGITS = re.compile(r"[0-9]+")


class KeyFileError(ValueError):
    """The key file cannot be used (what is wrong, in one sentence)."""


def key_id_of(name: str, public: bytes, kind: int = ED25519) -> bytes:
    """A key's four-byte ID in signed notes: ``SHA-256(name || "\\n" || kind || key)[:4]``,
    ``kind`` the signature type (0x01 a note signature, 0x04 a cosignature)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def parse_verifier_key(text: str, kind: int = ED25519) -> tuple[str, bytes, Ed25519PublicKey]:
    """The name, key ID and public key of a verifier key ``name+keyid+base64(kind || key)``
    (ValueError naming what is wrong)."""
    parts = text.strip().split("+", 2)  # the base64 key may hold '+', the name may not
    if len(parts) != 3 or not NAME.fullmatch(parts[0]):
        raise ValueError("a verifier key is name+keyid+key, the name without spaces or '+'")
    name, key_id, encoded = parts
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError("the verifier key is not base64") from None
    if len(raw) != 33 or raw[0] != kind:
        raise ValueError(f"not an Ed25519 verifier key of signature type {kind:#04x}")
    if key_id_of(name, raw[1:], kind).hex() != key_id.lower():
        raise ValueError("the key ID does not match the key")
    return name, bytes.fromhex(key_id), Ed25519PublicKey.from_public_bytes(raw[1:])


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class LedgerKey:
    """The ledger's Ed25519 signing key and its name (the checkpoints' origin)."""

    name: str
    private: Ed25519PrivateKey

    @cached_property
    def public(self) -> bytes:
        """The raw 32-byte public key."""
        return _raw_public(self.private.public_key())

    @cached_property
    def key_id(self) -> bytes:
        """The four-byte key ID of signed notes."""
        return key_id_of(self.name, self.public)

    @property
    def verifier_key(self) -> str:
        """The verifier key, ``name+keyid+base64(0x01 || public key)``."""
        encoded = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def sign(self, text: str) -> str:
        """``text`` (ending in a newline) as a signed note with this key's signature."""
        if not text.endswith("\n"):
            raise ValueError("a note's text ends with a newline")
        signature = self.private.sign(text.encode())
        encoded = base64.b64encode(self.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {encoded}\n"

    def private_text(self) -> str:
        """The key file's content."""
        seed = self.private.private_bytes_raw()
        encoded = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{encoded}\n"

    @classmethod
    def from_text(cls, text: str) -> LedgerKey:
        """A key from a key file's content; KeyFileError naming what is wrong."""
        parts = text.strip().split("+", 4)  # the base64 key may hold '+', the name may not
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise KeyFileError("not a signing key (expected PRIVATE+KEY+name+id+key)")
        name, key_id, encoded = parts[2], parts[3], parts[4]
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise KeyFileError("the key is not base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise KeyFileError("not an Ed25519 key")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if key.key_id.hex() != key_id:
            raise KeyFileError("the key ID does not match the key")
        return key


def _check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise KeyFileError(f"a key name has no spaces and no '+' (got {name!r})")
    return name


def load_or_create_key(path: Path, name: str) -> LedgerKey:
    """The key in ``path``, created (named ``name``) if there is none yet.

    The file is opened without following a symbolic link, and refused unless it belongs to
    this process's user and nobody else may read or write it, as ssh refuses such a key: it
    signs the ledger's history. Any failure is a :class:`KeyFileError` naming the file."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        return _create(path, _check_name(name))
    except FileExistsError:  # another process created it first: use theirs
        return _read_key(path)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create the signing key: {exc}") from None


def _read_key(path: Path) -> LedgerKey:
    """The key in ``path``; FileNotFoundError when there is no file at all."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        if path.is_symlink():  # a link to nothing: never followed, never written through
            raise KeyFileError(f"{path}: is a symbolic link; name the key file itself") from None
        raise
    except OSError as exc:
        reason = "is a symbolic link" if exc.errno == errno.ELOOP else str(exc)
        raise KeyFileError(f"{path}: cannot read the signing key: {reason}") from None
    with os.fdopen(handle, "rb") as file:
        status = os.fstat(file.fileno())
        mode = stat.S_IMODE(status.st_mode)
        if status.st_uid != os.geteuid():
            raise KeyFileError(f"{path}: the signing key belongs to another user")
        if mode & 0o077:
            raise KeyFileError(
                f"{path}: the signing key is open to others (mode {mode:o}); chmod 600 it"
            )
        data = file.read(4096)
    try:
        return LedgerKey.from_text(data.decode("ascii"))
    except (KeyFileError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def _create(path: Path, name: str) -> LedgerKey:
    """A new key, written to a temporary file and linked into place (FileExistsError when
    another process was first)."""
    key = LedgerKey(name, Ed25519PrivateKey.generate())
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(key.private_text())
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)  # atomic, and refused if anything is there already
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        os.unlink(temporary)
    return key


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The note text of a checkpoint (c2sp.org/tlog-checkpoint)."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read from a note: origin, tree size and root hash."""

    origin: str
    size: int
    root: bytes


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint in a note's text (ValueError naming what is wrong)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
        raise ValueError("a checkpoint is at least three non-empty lines, each ending in newline")
    origin, size, root = lines[0], lines[1], lines[2]
    if not _DIGITS.fullmatch(size) or (size != "0" and size.startswith("0")):
        raise ValueError(f"bad tree size {size!r}")
    try:
        digest = base64.b64decode(root, validate=True)
    except ValueError:
        raise ValueError("the root hash is not base64") from None
    if len(digest) != 32:
        raise ValueError("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), digest)


@dataclass(frozen=True)
class NoteVerifier:
    """Verifies signed notes against one verifier key (``name+keyid+base64(0x01 || key)``)."""

    name: str
    key_id: bytes
    public: Ed25519PublicKey

    @classmethod
    def from_text(cls, text: str) -> NoteVerifier:
        """A verifier from its key text (ValueError naming what is wrong)."""
        return cls(*parse_verifier_key(text))

    def renamed(self, name: str) -> NoteVerifier:
        """The same public key under another name: the key of one of the ledger's other trees
        (:func:`xinyong.ledger.signed_head.tree_key`), whose key ID follows from the name."""
        return NoteVerifier(name, key_id_of(name, _raw_public(self.public)), self.public)

    def open(self, note: str) -> str:
        """The text of a signed note this key signed (ValueError saying why not)."""
        if not note.endswith("\n"):
            raise ValueError("a signed note ends with a newline")
        text, separator, signatures = note[:-1].rpartition("\n\n")
        if not separator:
            raise ValueError("no blank line before the signatures")
        text += "\n"
        verified = False
        for line in signatures.split("\n"):
            if not line.startswith(SIGNATURE_PREFIX):
                raise ValueError(f"not a signature line: {line!r}")
            name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except ValueError:
                raise ValueError("a signature is not base64") from None
            if name != self.name or raw[:4] != self.key_id:
                continue  # another key's signature (a witness's): not ours to judge
            try:
                self.public.verify(raw[4:], text.encode())
            except InvalidSignature:
                raise ValueError(f"the signature of {name} does not verify") from None
            verified = True
        if not verified:
            raise ValueError(f"no signature by {self.name}")
        return text
