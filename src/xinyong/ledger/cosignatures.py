"""The witnesses' cosignatures the ledger received: checked, kept, and published with the
checkpoints they sign (C2SP tlog-cosignature, :mod:`xinyong.ledger.cosigning`).

A cosignature is taken only from a witness the ``witnesses`` setting names, only on a checkpoint
this ledger signed and holds (same size, same root), and only when its signature verifies; the
newest per witness and size is kept. When served, a kept line is published only if it still
verifies, by a witness still named, over the checkpoint as it is signed now: a witness dropped
from the setting, or a checkpoint re-signed under a rotated key's new name, leaves no stale
line behind. Publishing them lets a reader who trusts some witnesses accept a checkpoint that
enough of them cosigned, without asking each witness.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from xinyong.ledger.append import read_checkpoint, utc_now_text
from xinyong.ledger.cosigning import Cosignature, CosignatureVerifier, signature_lines
from xinyong.ledger.schema import cosignatures
from xinyong.ledger.signing import NoteVerifier, parse_checkpoint

__all__ = [
    "FUTURE_SECONDS",
    "MAX_LINES",
    "CosignatureRefused",
    "cosignature_lines",
    "cosigned_sizes",
    "receive_cosignatures",
]

FUTURE_SECONDS = 300
"""How far ahead of this clock a cosignature's time may be (clocks differ a little)."""
MAX_LINES = 100
"""The most signature lines a received note may carry (as Go's note.Open allows): each may
cost a signature verification."""


class CosignatureRefused(ValueError):
    """The note carries no cosignature this ledger takes (why, in one sentence)."""


def receive_cosignatures(
    conn: Connection, note: str, log: NoteVerifier, witnesses: Sequence[CosignatureVerifier]
) -> tuple[int, list[Cosignature]]:
    """Keep the cosignatures in ``note`` (a checkpoint signed by ``log``, cosigned by some of
    ``witnesses``); the checkpoint's size and the cosignatures newly kept (a witness's older
    or equal one is not). Call in a transaction that writes."""
    if len(signature_lines(note)) > MAX_LINES:
        raise CosignatureRefused(f"a note carries at most {MAX_LINES} signature lines")
    try:
        text = log.open(note)
        point = parse_checkpoint(text)
    except ValueError as exc:
        raise CosignatureRefused(f"not a checkpoint of this ledger: {exc}") from None
    held = read_checkpoint(conn, point.size)
    if held is None or held.root != point.root:
        raise CosignatureRefused(f"this ledger holds no checkpoint of size {point.size} and root")
    found = [c for w in witnesses if (c := w.find(note, text)) is not None]
    if not found:
        raise CosignatureRefused("no valid cosignature by a witness this ledger knows")
    late = [c.witness for c in found if c.signed_at > time.time() + FUTURE_SECONDS]
    if late:
        raise CosignatureRefused(f"the cosignature of {late[0]} is from the future")
    return point.size, [c for c in found if _keep(conn, point.size, c)]


def _keep(conn: Connection, size: int, c: Cosignature) -> bool:
    """Keep ``c`` unless a cosignature of the same witness and size as new is kept."""
    same = (
        (cosignatures.c.size == size)
        & (cosignatures.c.witness == c.witness)
        & (cosignatures.c.key_id == c.key_id.hex())
    )
    kept = conn.execute(select(cosignatures.c.signed_at).where(same)).scalar()
    if kept is not None and int(kept) >= c.signed_at:
        return False
    conn.execute(delete(cosignatures).where(same))
    conn.execute(
        insert(cosignatures).values(
            size=size,
            witness=c.witness,
            key_id=c.key_id.hex(),
            signed_at=c.signed_at,
            line=c.line,
            received_at=utc_now_text(),
        )
    )
    return True


def cosignature_lines(
    conn: Connection, size: int, text: str, witnesses: Sequence[CosignatureVerifier]
) -> list[str]:
    """The kept cosignature lines of the checkpoint of ``size`` (whose note text is ``text``)
    that verify, by witnesses in ``witnesses``, by witness name."""
    by_key = {(w.name, w.key_id.hex()): w for w in witnesses}
    query = (
        select(cosignatures.c.witness, cosignatures.c.key_id, cosignatures.c.line)
        .where(cosignatures.c.size == size)
        .order_by(cosignatures.c.witness, cosignatures.c.key_id)
    )
    lines = []
    for witness, key_id, line in conn.execute(query):
        verifier = by_key.get((str(witness), str(key_id)))
        if verifier is not None and verifier.check(str(line), text) is not None:
            lines.append(str(line))
    return lines


def cosigned_sizes(conn: Connection, witnesses: Sequence[CosignatureVerifier]) -> list[int]:
    """The sizes with a kept cosignature by one of ``witnesses``, newest first (at most 20)."""
    if not witnesses:
        return []
    named = [(w.name, w.key_id.hex()) for w in witnesses]
    query = (
        select(cosignatures.c.size, cosignatures.c.witness, cosignatures.c.key_id)
        .order_by(cosignatures.c.size.desc())
        .limit(20 * len(named))
    )
    sizes: list[int] = []
    for size, witness, key_id in conn.execute(query):
        if (str(witness), str(key_id)) in named and int(size) not in sizes:
            sizes.append(int(size))
    return sizes[:20]
