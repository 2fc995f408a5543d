"""The witnesses' cosignatures the ledger received: checked, kept, and published with the
checkpoints they sign (C2SP tlog-cosignature, :mod:`xinyong.ledger.cosigning`).

A cosignature is taken only from a witness the ``witnesses`` setting names, only on a checkpoint
this ledger signed and holds (same size, same root), and only when its signature verifies; the
newest per witness and size is kept. Publishing them lets a reader who trusts some witnesses
accept a checkpoint that enough of them cosigned, without asking each witness.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from xinyong.ledger.append import read_checkpoint, utc_now_text
from xinyong.ledger.cosigning import Cosignature, CosignatureVerifier
from xinyong.ledger.schema import cosignatures
from xinyong.ledger.signing import NoteVerifier, parse_checkpoint

__all__ = ["FUTURE_SECONDS", "CosignatureRefused", "cosignature_lines", "receive_cosignatures"]

FUTURE_SECONDS = 300
"""How far ahead of this clock a cosignature's time may be (clocks differ a little)."""


class CosignatureRefused(ValueError):
    """The note carries no cosignature this ledger takes (why, in one sentence)."""


def receive_cosignatures(
    conn: Connection, note: str, log: NoteVerifier, witnesses: Sequence[CosignatureVerifier]
) -> tuple[int, list[Cosignature]]:
    """Keep the cosignatures in ``note`` (a checkpoint signed by ``log``, cosigned by some of
    ``witnesses``); the checkpoint's size and the cosignatures kept. Call in a transaction."""
    try:
        text = log.open(note)
        point = parse_checkpoint(text)
    except ValueError as exc:
        raise CosignatureRefused(f"not a checkpoint of this ledger: {exc}") from None
    held = read_checkpoint(conn, point.size)
    if held is None or held.root != point.root:
        raise CosignatureRefused(f"this ledger holds no checkpoint of size {point.size} and root")
    found = []
    for witness in witnesses:
        try:
            cosigned = witness.find(note, text)
        except ValueError as exc:
            raise CosignatureRefused(str(exc)) from None
        if cosigned is not None:
            if cosigned.signed_at > time.time() + FUTURE_SECONDS:
                raise CosignatureRefused(f"the cosignature of {witness.name} is from the future")
            found.append(cosigned)
    if not found:
        raise CosignatureRefused("no cosignature by a witness this ledger knows")
    for c in found:
        _keep(conn, point.size, c)
    return point.size, found


def _keep(conn: Connection, size: int, c: Cosignature) -> None:
    """Keep ``c`` unless a newer one of the same witness and size is kept."""
    same = (
        (cosignatures.c.size == size)
        & (cosignatures.c.witness == c.witness)
        & (cosignatures.c.key_id == c.key_id.hex())
    )
    kept = conn.execute(select(cosignatures.c.signed_at).where(same)).scalar()
    if kept is not None and int(kept) >= c.signed_at:
        return
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


def cosignature_lines(conn: Connection, size: int) -> list[str]:
    """The kept cosignature lines of the checkpoint of ``size``, by witness."""
    query = (
        select(cosignatures.c.line)
        .where(cosignatures.c.size == size)
        .order_by(cosignatures.c.witness, cosignatures.c.key_id)
    )
    return [str(line) for line in conn.execute(query).scalars()]
