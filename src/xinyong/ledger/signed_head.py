"""The ledger's signed checkpoint: where its key lives, and the note for the newest tree head.

The key file is ``signing_key`` when set; else beside a SQLite ledger (``FILE.key``), or, for a
database server, ``$XDG_CONFIG_HOME/xinyong/keys/<ledger id>.key`` (``~/.config`` by default). A
key created here is named ``ledger_origin`` when set, else ``xinyong.local/ledger/<ledger id>``:
the name is the origin line of every checkpoint the key signs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, select

from xinyong.ledger.append import TreeHead, read_checkpoint, read_head
from xinyong.ledger.cosignatures import cosignature_lines
from xinyong.ledger.cosigning import CosignatureVerifier
from xinyong.ledger.operations import read_operations_head
from xinyong.ledger.schema import ledger_identity
from xinyong.ledger.signing import LedgerKey, checkpoint_text, load_or_create_key

__all__ = [
    "OPERATIONS_ORIGIN_SUFFIX",
    "default_key_path",
    "ledger_key",
    "operations_key",
    "signed_checkpoint",
    "signed_operations_checkpoint",
]

OPERATIONS_ORIGIN_SUFFIX = "/operations"
"""The operations log's origin line is the ledger's with this suffix (its own tree, same key)."""


def _ledger_id(conn: Connection) -> str:
    return str(conn.execute(select(ledger_identity.c.ledger_id)).scalar_one())


def default_key_path(conn: Connection) -> Path:
    """Where the ledger's key lives when no setting names it."""
    url = conn.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(f"{url.database}.key")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "xinyong" / "keys" / f"{_ledger_id(conn)}.key"


def ledger_key(conn: Connection, configured: Path | None = None, origin: str = "") -> LedgerKey:
    """The ledger's signing key (created on first use; :class:`~xinyong.ledger.signing.
    KeyFileError` when the file cannot be used)."""
    path = configured if configured is not None else default_key_path(conn)
    return load_or_create_key(path, origin or f"xinyong.local/ledger/{_ledger_id(conn)}")


def signed_checkpoint(
    conn: Connection,
    key: LedgerKey,
    size: int | None = None,
    *,
    witnesses: Sequence[CosignatureVerifier] = (),
) -> str:
    """The checkpoint of the newest tree head (or of the one at ``size``), signed, with the
    cosignatures kept for it by ``witnesses`` that verify; ValueError when no batch ended at
    ``size``."""
    head: TreeHead | None = read_head(conn) if size is None else read_checkpoint(conn, size)
    if head is None:
        raise ValueError(f"no checkpoint at size {size}")
    text = checkpoint_text(key.name, head.size, head.root)
    note = key.sign(text)
    if witnesses:
        note += "".join(f"{line}\n" for line in cosignature_lines(conn, head.size, text, witnesses))
    return note


def signed_operations_checkpoint(conn: Connection, key: LedgerKey) -> str:
    """The operations log's newest checkpoint (:mod:`xinyong.ledger.operations`), signed by the
    ledger's key; its origin is the ledger's followed by ``/operations``."""
    head = read_operations_head(conn)
    signer = operations_key(key)
    return signer.sign(checkpoint_text(signer.name, head.size, head.root))


def operations_key(key: LedgerKey) -> LedgerKey:
    """The ledger's key under the operations log's name (its origin): the same key pair, so
    nothing more to keep secret, but a verifier key and key ID of its own, since a checkpoint's
    origin is its key's name (a witness holds one key per log)."""
    return LedgerKey(key.name + OPERATIONS_ORIGIN_SUFFIX, key.private)
