"""``xinyong ledger head`` and ``xinyong ledger verify``."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from xinyong.cli.common import DbOption, err, fail, open_db_or_exit, out, row_progress
from xinyong.ledger.append import read_head
from xinyong.ledger.verify import parse_tree_head, verify_ledger

__all__ = ["ledger_app"]

ledger_app = typer.Typer(help="Inspect and verify the tamper-evident ledger.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


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
    as_json: JsonOption = False,
) -> None:
    """Recompute every entry hash and checkpoint root; exit 1 naming the first entry that fails."""
    try:
        outside = parse_tree_head(against) if against else None
    except ValueError as exc:
        fail(f"--against: {exc}")
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn, conn.begin():
            total = read_head(conn).size
            with row_progress("verify") as bar:
                task = bar.add_task("verify", total=total)
                result = verify_ledger(
                    conn, outside, progress=lambda done: bar.update(task, completed=done)
                )
                bar.update(task, completed=result.size)
    finally:
        engine.dispose()
    if as_json:
        payload = {
            "ok": result.ok,
            "size": result.size,
            "root": result.root.hex(),
            "checkpoints": result.checkpoints,
            "problems": [{"position": p.position, "message": p.message} for p in result.problems],
        }
        out.print(orjson.dumps(payload).decode())
    elif result.ok:
        checked = f"; consistent with {outside.token}" if outside else ""
        out.print(
            f"ok: {result.size:,} entries and {result.checkpoints:,} checkpoints verify, "
            f"root {result.root.hex()}{checked}"
        )
    else:
        out.print(f"FAILED: {result.problems[0]}")
        for problem in result.problems[1:]:
            err.print(f"  also: {problem}")
        if result.truncated:
            err.print("  (more problems not shown)")
    if not result.ok:
        raise typer.Exit(1)
