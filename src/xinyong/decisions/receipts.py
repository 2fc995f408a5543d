"""Decision receipts: a check's answer, signed by the ledger's key, that the relying party keeps.

A receipt is a C2SP signed note (the same envelope and key as the ledger's checkpoints,
docs/verify.md) whose text is two lines:

    xinyong-receipt/v1
    {"applies":true,"as_of":"2025-06-30","checkpoint":{"root":"…","size":41},…}

the second a JSON object with sorted keys: the decision id, the relying party and its purpose,
the measure, the subject as given, ``applies``, the as-of date, the scheme id and version, the
guardrail findings the version was activated despite (``overrides``), and the checkpoint the
decision was made at (the ledger's size and Merkle root, the tree head the relying party can
check a signed checkpoint and proofs against). Everything in it is logged with the decision or
derived from what is, and Ed25519 signatures are deterministic, so the replay of a decision
gives the same receipt byte for byte.

``xinyong verify receipt FILE --key KEYFILE`` checks one offline: no database, no network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from xinyong.decisions.checks import Decision
from xinyong.ledger.append import TreeHead
from xinyong.ledger.signing import LedgerKey, NoteVerifier

__all__ = ["RECEIPT_HEADER", "open_receipt", "receipt"]

RECEIPT_HEADER = "xinyong-receipt/v1"
"""The first line of a receipt's text (no checkpoint starts so: a receipt is never taken for
one)."""


def receipt(
    key: LedgerKey,
    decision: Decision,
    purpose: str,
    overrides: Sequence[dict[str, str]],
    head: TreeHead,
) -> str:
    """The signed receipt of ``decision``, made when the ledger's tree head was ``head``."""
    body = {
        "decision_id": decision.decision_id,
        "relying_party": decision.relying_party,
        "purpose": purpose,
        "measure": decision.measure,
        "subject": decision.subject_id,
        "applies": decision.applies,
        "as_of": decision.as_of.isoformat(),
        "scheme": decision.scheme_id,
        "version": decision.version,
        "overrides": sorted(o["finding"] for o in overrides),
        "checkpoint": {"size": head.size, "root": head.root.hex()},
    }
    text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
    return key.sign(f"{RECEIPT_HEADER}\n{text}\n")


def open_receipt(note: str, verifier: NoteVerifier) -> dict[str, Any]:
    """The decision a receipt signed by ``verifier``'s key states (ValueError saying why not)."""
    text = verifier.open(note)
    header, _, rest = text.partition("\n")
    if header != RECEIPT_HEADER:
        raise ValueError("not a decision receipt")
    lines = rest.split("\n")
    if len(lines) != 2 or lines[1]:
        raise ValueError("a receipt's text is its header and one line of JSON")
    try:
        found = orjson.loads(lines[0])
    except orjson.JSONDecodeError:
        raise ValueError("the receipt's statement is not JSON") from None
    if not isinstance(found, dict):
        raise ValueError("the receipt's statement is not a JSON object")
    return found
