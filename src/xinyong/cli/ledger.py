"""``xinyong ledger``: the head, verification, the signed checkpoint and proofs."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import orjson
import typer
from sqlalchemy import Connection

from xinyong.application.verification import verify_all
from xinyong.application.witness import (
    LEDGER_LOG,
    Refused,
    Unreachable,
    Witnessed,
    witness_once,
)
from xinyong.cli.common import DbOption, err, fail, open_db_or_exit, out, row_progress
from xinyong.ledger.append import TreeHead, read_head
from xinyong.ledger.cosigning import cosigner_key
from xinyong.ledger.database import ledger_place, one_snapshot
from xinyong.ledger.proofs import ProofRefused, prove_consistency, prove_inclusion
from xinyong.ledger.signed_head import ledger_key, signed_checkpoint, tree_key
from xinyong.ledger.signing import KeyFileError, LedgerKey, load_or_create_key
from xinyong.ledger.trees import TREES, Tree
from xinyong.ledger.verify import Verification, parse_tree_head

__all__ = ["ledger_app"]

ledger_app = typer.Typer(help="Inspect and verify the tamper-evident ledger.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


class Log(StrEnum):
    """The ledger's trees, as ``--log`` names them."""

    ledger = "ledger"
    operations = "operations"
    inquiries = "inquiries"


LogOption = Annotated[
    Log,
    typer.Option(
        "--log",
        help="Which tree: the ledger's main one (records), the operations log (every change "
        "to keys, schemes, objections, listings, notices...) or the inquiry log (every check).",
    ),
]


def _tree(log: Log) -> Tree:
    return TREES[log.value]


@ledger_app.command("init")
def init(db: DbOption = None) -> None:
    """Create an empty ledger (the other reading commands refuse a database that holds none);
    a ledger that exists already is brought to the newest schema and left as it is."""
    engine = open_db_or_exit(db, create=True)
    try:
        with engine.connect() as conn:
            tree = read_head(conn)
    finally:
        engine.dispose()
    out.print(f"ledger at {ledger_place(db)}: {tree.size} entries")


@ledger_app.command("head")
def head(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Print the log size and Merkle root (keep SIZE:ROOT somewhere else to check later)."""
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            tree = read_head(conn)
    finally:
        engine.dispose()
    if as_json:
        payload = {"size": tree.size, "root": tree.root.hex(), "committed_at": tree.committed_at}
        out.print(orjson.dumps(payload).decode())
        return
    out.print(f"size\t{tree.size}")
    out.print(f"root\t{tree.root.hex()}")
    out.print(f"committed_at\t{tree.committed_at or '-'}")
    out.print(f"checkpoint\t{tree.token}")


@ledger_app.command("verify")
def verify(
    db: DbOption = None,
    against: Annotated[
        str | None,
        typer.Option(help="A tree head SIZE:ROOT kept earlier: prove the log only grew since."),
    ] = None,
    operations_against: Annotated[
        str | None,
        typer.Option(help="The same for the operations log: a SIZE:ROOT of it kept earlier."),
    ] = None,
    inquiries_against: Annotated[
        str | None,
        typer.Option(help="The same for the inquiry log: a SIZE:ROOT of it kept earlier."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every entry hash and checkpoint root of the ledger and of its operations log,
    and check every operational row against its newest logged state; exit 1 naming the first
    problem."""
    outside = _tree_head("--against", against)
    operations_outside = _tree_head("--operations-against", operations_against)
    inquiries_outside = _tree_head("--inquiries-against", inquiries_against)
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn, one_snapshot(conn).begin():
            total = read_head(conn).size
            with row_progress("verify") as bar:
                task = bar.add_task("verify", total=total)
                verified = verify_all(
                    conn,
                    (outside, operations_outside, inquiries_outside),
                    progress=lambda done: bar.update(task, completed=done),
                )
                bar.update(task, completed=verified.ledger.size)
    finally:
        engine.dispose()
    result, operations, checks = verified.ledger, verified.operations, verified.inquiries
    problems = verified.problems
    if as_json:
        payload = {
            **_verified(result),
            "ok": not problems,
            "operations": _verified(operations),
            "inquiries": _verified(checks),
        }
        out.print(orjson.dumps(payload).decode())
    elif not problems:
        checked = f"; consistent with {outside.token}" if outside else ""
        out.print(
            f"ok: {result.size:,} entries and {result.checkpoints:,} checkpoints verify, "
            f"root {result.root.hex()}{checked}"
        )
        checked = f"; consistent with {operations_outside.token}" if operations_outside else ""
        out.print(
            f"ok: operations log of {operations.size:,} entries verifies, root "
            f"{operations.root.hex()}, and every operational row is as last logged{checked}"
        )
        checked = f"; consistent with {inquiries_outside.token}" if inquiries_outside else ""
        out.print(
            f"ok: inquiry log of {checks.size:,} checks verifies, root {checks.root.hex()}{checked}"
        )
    else:
        out.print(f"FAILED: {problems[0]}")
        for problem in problems[1:]:
            err.print(f"  also: {problem}", markup=False)
        if verified.truncated:
            err.print("  (more problems not shown)")
    if problems:
        raise typer.Exit(1)


def _tree_head(option: str, token: str | None) -> TreeHead | None:
    try:
        return parse_tree_head(token) if token else None
    except ValueError as exc:
        fail(f"{option}: {exc}")


def _verified(result: Verification) -> dict[str, object]:
    return {
        "ok": result.ok,
        "size": result.size,
        "root": result.root.hex(),
        "checkpoints": result.checkpoints,
        "problems": [{"position": p.position, "message": p.message} for p in result.problems],
    }


KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        envvar="XINYONG_SIGNING_KEY",
        help="The ledger's signing key file (default: beside a SQLite ledger, FILE.key; created "
        "on first use, mode 0600).",
    ),
]
OriginOption = Annotated[
    str,
    typer.Option(
        "--origin",
        envvar="XINYONG_LEDGER_ORIGIN",
        help="Name a key created now (the checkpoints' origin line).",
    ),
]


def _signing_key(conn: Connection, key: Path | None, origin: str) -> LedgerKey:
    try:
        return ledger_key(conn, key, origin)
    except KeyFileError as exc:
        fail(str(exc))


@ledger_app.command("checkpoint")
def checkpoint(
    db: DbOption = None,
    key: KeyOption = None,
    origin: OriginOption = "",
    size: Annotated[
        int | None, typer.Option(help="An earlier checkpoint (a size a batch ended at).")
    ] = None,
    log: LogOption = Log.ledger,
) -> None:
    """Print the ledger's signed checkpoint (C2SP tlog-checkpoint, a C2SP signed note)."""
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            signer = _signing_key(conn, key, origin)
            try:
                note = signed_checkpoint(conn, signer, size, tree=_tree(log))
            except ValueError as exc:
                fail(str(exc))
    finally:
        engine.dispose()
    sys.stdout.write(note)


@ledger_app.command("public-key")
def public_key(
    db: DbOption = None,
    key: KeyOption = None,
    origin: OriginOption = "",
    log: LogOption = Log.ledger,
) -> None:
    """Print the verifier key of the ledger's checkpoints (name+keyid+base64key)."""
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            signer = _signing_key(conn, key, origin)
    finally:
        engine.dispose()
    signer = tree_key(signer, _tree(log))
    sys.stdout.write(signer.verifier_key + "\n")


@ledger_app.command("prove")
def prove(
    db: DbOption = None,
    index: Annotated[
        int | None, typer.Option(help="Prove entry INDEX is in the tree (inclusion).")
    ] = None,
    size: Annotated[
        int | None, typer.Option(help="The tree's size (default: the ledger's size now).")
    ] = None,
    consistency: Annotated[
        tuple[int, int] | None,
        typer.Option(help="Prove the tree of N entries extends the tree of M (M N)."),
    ] = None,
    log: LogOption = Log.ledger,
) -> None:
    """Print an RFC 9162 inclusion or consistency proof as JSON (hashes in lowercase hex)."""
    if (index is None) == (consistency is None):
        fail("give --index I [--size N] or --consistency M N")
    tree = _tree(log)
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn, conn.begin():
            try:
                if index is not None:
                    proof = prove_inclusion(conn, index, size, tree)
                else:
                    assert consistency is not None
                    proof = prove_consistency(conn, consistency[0], consistency[1], tree)
            except ProofRefused as exc:
                fail(str(exc))
    finally:
        engine.dispose()
    out.print(orjson.dumps(proof).decode())


def _cosigner(path: Path | None, name: str, *, submit: bool) -> LedgerKey | None:
    """The witness's own key for --cosign (created on first use), its verifier key printed."""
    if path is None:
        if submit:
            fail("--submit sends cosignatures: give --cosign KEYFILE")
        return None
    try:
        cosigner = load_or_create_key(path, name)
    except KeyFileError as exc:
        fail(f"--cosign: {exc}")
    err.print(f"cosigning as {cosigner_key(cosigner)}", markup=False)
    return cosigner


def _said(seen: Witnessed, state: Path) -> bool:
    """Print what a witness run accepted; False when the log refused its cosignature."""
    if seen.learned_key:
        err.print(
            f"trusting the key the service gave on first use: {state}/verifier.key", markup=False
        )
    grown = "" if seen.previous is None else f", consistent with {seen.previous}"
    out.print(f"ok: checkpoint of {seen.size} entries, root {seen.root.hex()}{grown}")
    if seen.submitted is None:
        return True
    out.print(f"cosignature sent: {seen.submitted}", markup=False)
    return seen.submitted.startswith("200 ")


@ledger_app.command("witness")
def witness(
    url: Annotated[str, typer.Argument(help="The service's base URL, e.g. http://host:8000.")],
    state: Annotated[
        Path, typer.Option("--state", help="The witness's own directory (kept between runs).")
    ],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The verifier key (name+keyid+base64key) or @FILE holding it; default: learn "
            "it from the service on the first run and trust it from then on.",
        ),
    ] = None,
    every: Annotated[
        float | None,
        typer.Option("--every", min=1, help="Run again every SECONDS until interrupted."),
    ] = None,
    cosign_key: Annotated[
        Path | None,
        typer.Option(
            "--cosign",
            help="The witness's own key file: cosign each checkpoint accepted (C2SP "
            "tlog-cosignature) into STATE/cosigned.txt; created on first use, named --name.",
        ),
    ] = None,
    name: Annotated[
        str,
        typer.Option("--name", help="The witness's name, for a key --cosign creates."),
    ] = "witness.local/xinyong",
    submit: Annotated[
        bool,
        typer.Option("--submit", help="Send each cosignature to the log, which publishes it."),
    ] = False,
    log: LogOption = Log.ledger,
) -> None:
    """Check the log's signed checkpoint and that it extends the last one accepted; exit 1 on
    a bad signature, a rollback or a fork, keeping the evidence in the state directory (exit 2
    when the log cannot be reached; with --every, it tries again). With --cosign, sign what it
    accepted; the key's verifier key (for the log's `witnesses` setting) is printed; with
    --submit, exit 3 when the log did not take the cosignature. With --log, witness another of
    the ledger's trees (keep its state directory apart)."""
    if log is not Log.ledger and submit:
        fail("--submit: the service keeps cosignatures of the ledger's main tree only")
    path = LEDGER_LOG + _tree(log).suffix
    cosigner = _cosigner(cosign_key, name, submit=submit)
    given = key
    if key is not None and key.startswith("@"):
        try:
            given = Path(key[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"--key: {exc}")
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            try:
                seen = witness_once(client, state, given, cosigner, submit=submit, log=path)
            except Refused as exc:
                where = f" (evidence in {exc.evidence})" if exc.evidence else ""
                err.print(f"REFUSED: {exc.reason}{where}", markup=False)
                raise typer.Exit(1) from None
            except Unreachable as exc:  # no verdict: once, that is a failure; in a loop, wait
                err.print(f"UNREACHABLE: {exc}", markup=False)
                if every is None:
                    raise typer.Exit(2) from None
                time.sleep(every)
                continue
            taken = _said(seen, state)
            if not taken and every is None:
                raise typer.Exit(3)
            if every is None:
                return
            time.sleep(every)
