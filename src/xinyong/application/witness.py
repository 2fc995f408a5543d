"""A witness of the ledger: it fetches the signed checkpoint, checks the signature and that the
tree only grew since the checkpoint it last accepted, and keeps its own record.

Anyone can run one against a service's public routes (``GET /v1/ledger/checkpoint``,
``/v1/ledger/public-key``, ``/v1/ledger/proof/consistency``): ``xinyong ledger witness URL
--state DIR``; the ledger's other trees' are the same under ``/v1/ledger/operations`` and
``/v1/ledger/inquiries`` (``--log``), each witnessed in a state directory of its own. The
state directory holds:

- ``verifier.key``: the key checkpoints must be signed with (given with ``--key``, or learned
  from the service on the first run and trusted from then on, which the first run says);
- ``checkpoints.jsonl``: every checkpoint accepted, appended and synced to disk, never
  rewritten (``{"accepted_at", "size", "root", "note"}``);
- ``cosigned.txt``: with a cosigning key, the newest checkpoint accepted with the witness's
  cosignature (C2SP tlog-cosignature, :mod:`xinyong.ledger.cosigning`), replaced atomically on
  every run; with ``submit`` it is also sent to the log (``POST /v1/ledger/cosignatures``),
  which publishes it with the checkpoint;
- ``evidence-<time>/``: when a checkpoint is refused, the last one accepted
  (``accepted.txt``), the one served (``served.txt``), the consistency proof (``proof.txt``)
  and the reason (``reason.txt``), kept to show to others.

A checkpoint is refused when its signature does not verify with the key (a forged or re-keyed
log), when its origin is not the key's name, when the tree is smaller than the one accepted (a
rollback), when it has the same size and another root, or when the consistency proof from the
accepted checkpoint does not verify (a fork: history was rewritten). A log that cannot be reached
gives no verdict (:class:`Unreachable`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from xinyong.ledger.cosigning import cosign, without_signer
from xinyong.ledger.merkle import verify_consistency
from xinyong.ledger.signing import Checkpoint, LedgerKey, NoteVerifier, parse_checkpoint

__all__ = ["LEDGER_LOG", "Refused", "Unreachable", "Witnessed", "witness_once"]

LEDGER_LOG = "/v1/ledger"
"""Where the service serves the ledger's checkpoint, key and proofs (its other trees': the same
followed by the tree's suffix, :mod:`xinyong.ledger.trees`)."""
KEY_FILE = "verifier.key"
LOG_FILE = "checkpoints.jsonl"
COSIGNED_FILE = "cosigned.txt"


class Unreachable(Exception):
    """The log could not be asked (a network failure or an error answer): no verdict."""


class Refused(Exception):
    """The served checkpoint is not accepted (the reason in one sentence; evidence kept)."""

    def __init__(self, reason: str, evidence: Path | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence


@dataclass(frozen=True, slots=True)
class Witnessed:
    """What a run accepted."""

    size: int
    root: bytes
    previous: int | None
    """The size accepted before, None on the first run."""
    learned_key: bool
    """The verifier key was taken from the service on this run (trust on first use)."""
    cosigned: str | None = None
    """The checkpoint with this witness's cosignature, when it cosigns."""
    submitted: str | None = None
    """What the log answered to the cosignature, when it was sent."""


def _get(client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    try:
        answer = client.get(path, params=params or None)
    except httpx.HTTPError as exc:
        raise Unreachable(f"cannot reach the log: {exc}") from None
    if answer.status_code != 200:
        raise Unreachable(f"GET {path} answered {answer.status_code}: {answer.text[:200]}")
    return answer


def _last(state: Path) -> tuple[Checkpoint, str] | None:
    log = state / LOG_FILE
    if not log.exists():
        return None
    content = log.read_text(encoding="utf-8")
    if content and not content.endswith("\n"):
        # a run was killed while appending: its last, partial line was never accepted
        content = content[: content.rfind("\n") + 1]
        with log.open("r+", encoding="utf-8") as file:
            file.truncate(len(content.encode("utf-8")))
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        return None
    entry = json.loads(lines[-1])
    note = str(entry["note"])
    text = note[: note.rindex("\n\n") + 1]
    return parse_checkpoint(text), note


def _append(state: Path, checkpoint: Checkpoint, note: str) -> None:
    entry = {
        "accepted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "note": note,
    }
    with (state / LOG_FILE).open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        log.flush()
        os.fsync(log.fileno())


def _evidence(state: Path, reason: str, **files: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = state / f"evidence-{stamp}"
    folder.mkdir(parents=True)
    (folder / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    for name, content in files.items():
        (folder / f"{name}.txt").write_text(content, encoding="utf-8")
    return folder


def _key(
    client: httpx.Client, state: Path, given: str | None, log: str
) -> tuple[NoteVerifier, bool]:
    stored = state / KEY_FILE
    learned = False
    if stored.exists():
        text = stored.read_text(encoding="utf-8").strip()
        if given is not None and given.strip() != text:
            raise Refused(f"--key differs from the key in {stored}; start a new state directory")
    elif given is not None:
        text = given.strip()
    else:
        text = _get(client, f"{log}/public-key").text.strip()
        learned = True
    try:
        verifier = NoteVerifier.from_text(text)
    except ValueError as exc:
        raise Refused(f"the verifier key cannot be used: {exc}") from None
    if not stored.exists():
        stored.write_text(text + "\n", encoding="utf-8")
    return verifier, learned


def witness_once(
    client: httpx.Client,
    state: Path,
    key: str | None = None,
    cosigner: LedgerKey | None = None,
    *,
    submit: bool = False,
    log: str = LEDGER_LOG,
) -> Witnessed:
    """Fetch, check and record the checkpoint of the log served under ``log`` (``client``'s
    base URL is the service); :class:`Refused` when it must not be accepted. With
    ``cosigner``, cosign what was accepted (and, with ``submit``, send the cosignature to the
    service, which keeps those of the ledger's main tree)."""
    if submit and log != LEDGER_LOG:
        raise ValueError("the service keeps cosignatures of the ledger's main tree only")
    seen, note, text = _witness(client, state, key, log)
    if cosigner is None:
        return seen
    # exactly the note just verified and accepted, without this witness's older cosignature
    cosigned = cosign(cosigner, without_signer(note, cosigner.name), text, int(time.time()))
    _replace(state / COSIGNED_FILE, cosigned)
    submitted = None
    if submit:
        try:
            answer = client.post(
                "/v1/ledger/cosignatures",
                content=cosigned.encode(),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot send the cosignature: {exc}") from None
        submitted = f"{answer.status_code} {answer.text[:200]}"
    return Witnessed(seen.size, seen.root, seen.previous, seen.learned_key, cosigned, submitted)


def _replace(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` atomically: a kill leaves the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _witness(
    client: httpx.Client, state: Path, key: str | None, log: str
) -> tuple[Witnessed, str, str]:
    """The checks of :func:`witness_once`, without cosigning: what was accepted, and the note
    served and its verified text."""
    state.mkdir(parents=True, exist_ok=True)
    verifier, learned = _key(client, state, key, log)
    note = _get(client, f"{log}/checkpoint").text
    try:
        text = verifier.open(note)
        served = parse_checkpoint(text)
    except ValueError as exc:
        reason = f"bad signature: {exc}"
        raise Refused(reason, _evidence(state, reason, served=note)) from None
    if served.origin != verifier.name:
        reason = f"the checkpoint's origin {served.origin!r} is not the key's name"
        raise Refused(reason, _evidence(state, reason, served=note))
    last = _last(state)
    if last is None:
        _append(state, served, note)
        return Witnessed(served.size, served.root, None, learned), note, text
    accepted, accepted_note = last
    if served.origin != accepted.origin:
        reason = f"the origin changed from {accepted.origin!r} to {served.origin!r}"
        raise Refused(reason, _evidence(state, reason, accepted=accepted_note, served=note))
    if served.size < accepted.size:
        reason = f"rollback: the log shrank from {accepted.size} to {served.size} entries"
        raise Refused(reason, _evidence(state, reason, accepted=accepted_note, served=note))
    proof: list[bytes] = []
    proof_text = ""
    if served.size > accepted.size and accepted.size > 0:
        answer = _get(client, f"{log}/proof/consistency", first=accepted.size, second=served.size)
        proof_text = answer.text
        try:
            proof = [bytes.fromhex(node) for node in answer.json()["proof"]]
        except (ValueError, KeyError, TypeError):
            reason = "the log served a malformed consistency proof"
            evidence = _evidence(
                state, reason, accepted=accepted_note, served=note, proof=proof_text
            )
            raise Refused(reason, evidence) from None
    consistent = accepted.size == 0 or verify_consistency(
        accepted.size, accepted.root, served.size, served.root, proof
    )
    if not consistent:
        reason = (
            f"fork: the checkpoint of {served.size} entries does not extend the accepted one "
            f"of {accepted.size}"
        )
        evidence = _evidence(
            state, reason, accepted=accepted_note, served=note, proof=proof_text or "[]"
        )
        raise Refused(reason, evidence)
    if served.size > accepted.size:
        _append(state, served, note)
    return Witnessed(served.size, served.root, accepted.size, learned), note, text
