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

from xinyong.ledger.append import read_checkpoint, read_head
from xinyong.ledger.cosignatures import cosignature_lines
from xinyong.ledger.cosigning import CosignatureVerifier
from xinyong.ledger.schema import ledger_identity
from xinyong.ledger.signing import LedgerKey, checkpoint_text, load_or_create_key
from xinyong.ledger.trees import MAIN, Tree

__all__ = ["default_key_path", "ledger_key", "signed_checkpoint", "tree_key"]


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


def tree_key(key: LedgerKey, tree: Tree = MAIN) -> LedgerKey:
    """The ledger's key under ``tree``'s origin (the ledger's followed by its suffix): the same
    key pair, so nothing more to keep secret, but a verifier key and key ID of its own, since a
    checkpoint's origin is its key's name (a witness holds one key per log)."""
    return key if not tree.suffix else LedgerKey(key.name + tree.suffix, key.private)


def signed_checkpoint(
    conn: Connection,
    key: LedgerKey,
    size: int | None = None,
    *,
    witnesses: Sequence[CosignatureVerifier] = (),
    tree: Tree = MAIN,
) -> str:
    """The checkpoint of ``tree``'s newest head (or of the one at ``size``), signed, with the
    cosignatures kept for it by ``witnesses`` that verify (the main tree's); ValueError when no
    batch ended at ``size``."""
    head = read_head(conn, tree.heads) if size is None else read_checkpoint(conn, size, tree.heads)
    if head is None:
        raise ValueError(f"no checkpoint of the {tree.name} at size {size}")
    signer = tree_key(key, tree)
    text = checkpoint_text(signer.name, head.size, head.root)
    note = signer.sign(text)
    if witnesses and tree is MAIN:
        note += "".join(f"{line}\n" for line in cosignature_lines(conn, head.size, text, witnesses))
    return note
