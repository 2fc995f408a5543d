"""Decision receipts: a check's answer, signed by the ledger's key, that the relying party keeps.

A receipt is a C2SP signed note (the same envelope and key as the ledger's checkpoints,
docs/verify.md) whose text is two lines:

    xinyong-receipt/v1
    {"applies":true,"as_of":"2025-06-30","checkpoint":{"root":"…","size":41},…}

the second a JSON object with sorted keys: the decision id, the relying party and its purpose,
the measure, the subject as given, ``applies``, the as-of date, the scheme id and version, the
guardrail findings the version was activated despite (``overrides``), and the checkpoint the
decision was made at (the ledger's size and Merkle root, the tree head the relying party can
check a signed checkpoint and proofs against).

An adverse answer (a sanction that applies) also carries ``grounds``: the ledger entries it
rests on, each with its position, leaf hash and RFC 9162 inclusion proof in the checkpoint's
tree. They are the entries of the records its adverse notice names (the records that counted,
or the relation record a measure reached the person through) and of the events on them, as the
ledger held them at the decision's size. Entries below that size never change, and the notice
is written with the check, so the grounds are fixed when the check is made.

Everything in a receipt is logged with the decision or derived from what is, and Ed25519
signatures are deterministic, so the replay of a decision gives the same receipt byte for byte.

``xinyong verify receipt FILE --key KEYFILE`` checks one offline: no database, no network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from xinyong.decisions.checks import Decision
from xinyong.ledger.append import TreeHead
from xinyong.ledger.merkle import verify_inclusion
from xinyong.ledger.signing import LedgerKey, NoteVerifier

__all__ = ["RECEIPT_HEADER", "grounds_named", "open_receipt", "receipt"]

RECEIPT_HEADER = "xinyong-receipt/v1"
"""The first line of a receipt's text (no checkpoint starts so: a receipt is never taken for
one)."""


def receipt(
    key: LedgerKey,
    decision: Decision,
    purpose: str,
    overrides: Sequence[dict[str, str]],
    head: TreeHead,
    grounds: Sequence[Mapping[str, object]] | None = None,
) -> str:
    """The signed receipt of ``decision``, made when the ledger's tree head was ``head``; for an
    adverse answer, with the inclusion proofs (:func:`xinyong.ledger.proofs.prove_inclusions` in
    the tree of ``head.size``) of the entries it rests on."""
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
    if grounds is not None:
        body["grounds"] = [
            {"index": g["index"], "leaf_hash": g["leaf_hash"], "proof": g["proof"]} for g in grounds
        ]
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
    if "grounds" in found:
        _check_grounds(found)
    return found


def _check_grounds(found: dict[str, Any]) -> None:
    """Every ground is an entry proven in the tree of the receipt's checkpoint (ValueError)."""
    checkpoint = found.get("checkpoint")
    grounds = found["grounds"]
    if not isinstance(checkpoint, dict) or not isinstance(grounds, list):
        raise ValueError("the receipt's grounds name no checkpoint to be proven in")
    size, root = checkpoint.get("size"), checkpoint.get("root")
    try:
        root_hash = bytes.fromhex(str(root))
        for i, ground in enumerate(grounds):
            index, leaf, proof = (ground.get(k) for k in ("index", "leaf_hash", "proof"))
            if type(index) is not int or type(size) is not int or not isinstance(proof, list):
                raise ValueError(f"ground {i} names no entry and proof")
            nodes = [bytes.fromhex(str(node)) for node in proof]
            if not verify_inclusion(bytes.fromhex(str(leaf)), index, size, nodes, root_hash):
                raise ValueError(f"ground {i} (entry {index}) is not in the checkpoint's tree")
    except (AttributeError, TypeError):
        raise ValueError("the receipt's grounds are not entries with proofs") from None


def grounds_named(notice: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The records (source, record id) an adverse-check notice names: the records that counted,
    or the relation record the measure reached the person through."""
    keys = [str(r["record"]) for r in notice.get("records", [])]
    related = notice.get("related")
    if isinstance(related, Mapping) and related.get("record"):
        keys.append(str(related["record"]))
    named = [key.split("/", 1) for key in keys if "/" in key]  # a source name has no "/"
    return [(source, record_id) for source, record_id in named]
