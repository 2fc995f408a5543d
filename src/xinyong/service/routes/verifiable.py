"""The ledger as a transparency log: its signed checkpoint, its verifier key and its proofs.

The checkpoint, the key and consistency proofs are public: witnesses need them. An inclusion
proof ties an entry's position to a subject the caller names, so it needs a key: an operator
may ask about any entry, a subject about entries about them (and relation records naming them),
a relying party about entries about the subjects of decisions it received that applied a
measure, made when the ledger already held the entry (an adverse decision's receipt carries
the proofs of the entries it rests on, among them a relation record about an organisation).
The leaf hashes themselves are not secret: consistency proofs (RFC 6962) carry subtree and leaf
hashes, so anyone can collect them; see docs/verify.md on what that allows.

Proofs come from kept subtree roots (:mod:`xinyong.ledger.proofs`); the first of a process reads
every leaf hash once. One proof is computed at a time per process, and a request that finds one
under way is answered 503 with Retry-After, so that proofs cannot crowd out checks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role
from xinyong.application.proof_access import MayProve, may_see_entry, operator_only, own_inquiry
from xinyong.application.proving import ProofBusy, proof_slot
from xinyong.ledger.cosignatures import (
    CosignatureRefused,
    cosigned_sizes,
    receive_cosignatures,
)
from xinyong.ledger.cosigning import Cosignature, CosignatureVerifier, signature_lines
from xinyong.ledger.database import WRITE
from xinyong.ledger.proofs import ProofRefused, prove_consistency, prove_inclusion
from xinyong.ledger.signed_head import signed_checkpoint, tree_key
from xinyong.ledger.signing import KeyFileError, NoteVerifier
from xinyong.ledger.trees import INQUIRIES, OPERATIONS, Tree
from xinyong.service.auth import principal_of, roles
from xinyong.service.dependencies import context
from xinyong.service.limits import public_within_limit

__all__ = ["router"]

router = APIRouter(prefix="/v1/ledger", tags=["transparency log"])
Ctx = Annotated[Context, Depends(context)]
Caller = Annotated[Principal, Depends(principal_of)]
MAX_SIZE = 2**62
"""The largest size or index a request may name (beyond any ledger)."""


def _key(ctx: Context) -> Any:
    try:
        return ctx.ledger_key()
    except KeyFileError as exc:
        raise HTTPException(503, f"the ledger's signing key cannot be used: {exc}") from exc


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    **roles(*Role),
    responses={200: {"content": {"text/plain": {}}}},
)
def checkpoint(
    ctx: Ctx,
    size: Annotated[
        int | None, Query(ge=1, le=MAX_SIZE, description="An earlier checkpoint's size.")
    ] = None,
) -> PlainTextResponse:
    """The newest signed checkpoint (C2SP tlog-checkpoint as a C2SP signed note), or the one a
    batch ended at ``size``: origin, tree size, base64 root hash, and the ledger's signature."""
    key = _key(ctx)
    with ctx.engine.connect() as conn:
        try:
            note = signed_checkpoint(conn, key, size, witnesses=_witnesses(ctx))
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc
    return PlainTextResponse(note)


@router.get(
    "/checkpoint/cosigned",
    response_class=PlainTextResponse,
    **roles(*Role),
    responses={200: {"content": {"text/plain": {}}}},
)
def cosigned_checkpoint(ctx: Ctx) -> PlainTextResponse:
    """The newest checkpoint that witnesses cosigned, with their cosignatures (C2SP
    tlog-cosignature lines after the ledger's signature); 404 before any witness has."""
    key = _key(ctx)
    witnesses = _witnesses(ctx)
    with ctx.engine.connect() as conn:
        for size in cosigned_sizes(conn, witnesses):
            note = signed_checkpoint(conn, key, size, witnesses=witnesses)
            if len(signature_lines(note)) > 1:  # a cosignature that still verifies
                return PlainTextResponse(note)
    raise HTTPException(404, "no witness has cosigned a checkpoint yet")


MAX_COSIGNED_BYTES = 64 * 1024
"""The largest cosigned checkpoint taken (a checkpoint and a hundred signature lines fit)."""
_COSIGNED_BODY = {
    "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
}


@router.post(
    "/cosignatures",
    **{**roles(*Role), "openapi_extra": {**roles(*Role)["openapi_extra"], **_COSIGNED_BODY}},
)
async def receive(ctx: Ctx, request: Request) -> dict[str, object]:
    """Take a witness's cosignature: the body is a checkpoint this ledger signed, with the
    signature lines of witnesses the ``witnesses`` setting names (C2SP tlog-cosignature;
    at most 64 KiB and 100 signature lines). Each verified cosignature newer than the one kept
    is kept and published with that checkpoint (``witnesses`` in the answer: those kept);
    422 when the note carries none this ledger takes; rate-limited per client address."""
    witnesses = _witnesses(ctx)
    if not witnesses:
        raise HTTPException(422, "this ledger names no witnesses (setting witnesses)")
    await public_within_limit(ctx, request)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_COSIGNED_BYTES:
            raise HTTPException(413, f"a cosigned checkpoint is at most {MAX_COSIGNED_BYTES} bytes")
    try:
        note = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "the body is not UTF-8 text") from exc
    verifier = NoteVerifier.from_text(_key(ctx).verifier_key)

    def keep() -> tuple[int, list[Cosignature]]:
        with ctx.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            return receive_cosignatures(conn, note, verifier, witnesses)

    try:
        size, kept = await run_in_threadpool(keep)
    except CosignatureRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    except IntegrityError as exc:  # the same witness's cosignature, stored at the same moment
        raise HTTPException(409, "that cosignature is being stored; send it again") from exc
    return {"size": size, "witnesses": [c.witness for c in kept]}


def _witnesses(ctx: Context) -> tuple[CosignatureVerifier, ...]:
    """The witnesses the settings name (checked when the settings were loaded)."""
    return _parsed(tuple(ctx.settings.witnesses))


@functools.lru_cache(maxsize=8)
def _parsed(keys: tuple[str, ...]) -> tuple[CosignatureVerifier, ...]:
    return tuple(CosignatureVerifier.from_text(k) for k in keys)


@router.get(
    "/public-key",
    response_class=PlainTextResponse,
    **roles(*Role),
    responses={200: {"content": {"text/plain": {}}}},
)
def public_key(ctx: Ctx) -> PlainTextResponse:
    """The verifier key of the ledger's checkpoints (``name+keyid+base64key``, as Go's
    golang.org/x/mod/sumdb/note reads it)."""
    return PlainTextResponse(_key(ctx).verifier_key + "\n")


@router.get("/proof/consistency", **roles(*Role))
def consistency(
    ctx: Ctx,
    first: Annotated[int, Query(ge=1, le=MAX_SIZE)],
    second: Annotated[int, Query(ge=1, le=MAX_SIZE)],
) -> dict[str, object]:
    """RFC 9162 consistency proof: the tree of ``second`` entries extends the tree of
    ``first`` entries (hashes in lowercase hex)."""
    with _one_at_a_time(), ctx.engine.connect() as conn:
        try:
            return prove_consistency(conn, first, second)
        except ProofRefused as exc:
            raise HTTPException(422, str(exc)) from exc


@router.get("/proof/inclusion", **roles(Role.OPERATOR, Role.SUBJECT, Role.RELYING))
def inclusion(
    ctx: Ctx,
    caller: Caller,
    index: Annotated[int, Query(ge=0, le=MAX_SIZE)],
    size: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None,
) -> dict[str, object]:
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries (the
    current size by default): its leaf hash and audit path, in lowercase hex."""
    with ctx.engine.connect() as conn:
        if not may_see_entry(conn, caller, index):
            raise HTTPException(404, "no such entry that you may see")
        with _one_at_a_time():
            try:
                return prove_inclusion(conn, index, size)
            except ProofRefused as exc:
                raise HTTPException(422, str(exc)) from exc


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Hold the process's one proof slot, or answer 503 (Retry-After) when it is taken."""
    try:
        with proof_slot():
            yield
    except ProofBusy as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc


def _tree_routes(tree: Tree, may_prove: MayProve, who: tuple[Role, ...]) -> None:
    """The checkpoint, verifier key and proofs of one of the ledger's other trees, under
    ``/v1/ledger`` + its suffix, as the main tree's are under ``/v1/ledger``."""
    prefix = tree.suffix

    @router.get(
        f"{prefix}/checkpoint",
        response_class=PlainTextResponse,
        **roles(*Role),
        responses={200: {"content": {"text/plain": {}}}},
        name=f"{tree.suffix[1:]}_checkpoint",
        description=f"The {tree.name}'s newest signed checkpoint (or the one at ``size``): its "
        f"origin is the ledger's followed by ``{tree.suffix}``.",
    )
    def checkpoint(
        ctx: Ctx,
        size: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None,
    ) -> PlainTextResponse:
        key = _key(ctx)
        with ctx.engine.connect() as conn:
            try:
                note = signed_checkpoint(conn, key, size, tree=tree)
            except ValueError as exc:
                raise HTTPException(404, str(exc)) from exc
        return PlainTextResponse(note)

    @router.get(
        f"{prefix}/public-key",
        response_class=PlainTextResponse,
        **roles(*Role),
        responses={200: {"content": {"text/plain": {}}}},
        name=f"{tree.suffix[1:]}_public_key",
        description=f"The verifier key of the {tree.name}'s checkpoints: the ledger's key pair "
        "under the log's origin (``name+keyid+base64key``).",
    )
    def public_key(ctx: Ctx) -> PlainTextResponse:
        return PlainTextResponse(tree_key(_key(ctx), tree).verifier_key + "\n")

    @router.get(
        f"{prefix}/proof/consistency",
        **roles(*Role),
        name=f"{tree.suffix[1:]}_consistency",
        description=f"RFC 9162 consistency proof between two trees of the {tree.name}.",
    )
    def consistency(
        ctx: Ctx,
        first: Annotated[int, Query(ge=1, le=MAX_SIZE)],
        second: Annotated[int, Query(ge=1, le=MAX_SIZE)],
    ) -> dict[str, object]:
        with _one_at_a_time(), ctx.engine.connect() as conn:
            try:
                return prove_consistency(conn, first, second, tree)
            except ProofRefused as exc:
                raise HTTPException(422, str(exc)) from exc

    @router.get(
        f"{prefix}/proof/inclusion",
        **roles(*who),
        name=f"{tree.suffix[1:]}_inclusion",
        description=f"RFC 9162 inclusion proof of the {tree.name}'s entry ``index``.",
    )
    def inclusion(
        ctx: Ctx,
        caller: Caller,
        index: Annotated[int, Query(ge=0, le=MAX_SIZE)],
        size: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None,
    ) -> dict[str, object]:
        with ctx.engine.connect() as conn:
            if not may_prove(conn, caller, index):
                raise HTTPException(404, "no such entry that you may see")
            with _one_at_a_time():
                try:
                    return prove_inclusion(conn, index, size, tree)
                except ProofRefused as exc:
                    raise HTTPException(422, str(exc)) from exc


_tree_routes(OPERATIONS, operator_only, (Role.OPERATOR,))
_tree_routes(INQUIRIES, own_inquiry, (Role.OPERATOR, Role.SUBJECT, Role.RELYING))
