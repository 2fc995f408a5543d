"""``xinyong verify``: check what the ledger signed, offline (no database, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from xinyong.cli.common import err, out
from xinyong.decisions.receipts import open_receipt
from xinyong.ledger.signing import NoteVerifier

__all__ = ["verify_app"]

verify_app = typer.Typer(
    help="Check signed receipts offline, with the ledger's verifier key.", no_args_is_help=True
)

KeyFileOption = Annotated[
    Path,
    typer.Option(
        "--key", help="A file holding the ledger's verifier key (GET /v1/ledger/public-key)."
    ),
]


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"INVALID: cannot read the {what} {path}: {exc}", markup=False)
        raise typer.Exit(1) from None


@verify_app.command("receipt")
def receipt(
    path: Annotated[Path, typer.Argument(help="The receipt (the check answer's `receipt`).")],
    key: KeyFileOption,
) -> None:
    """Check a decision receipt's signature and print the decision it states; exit 1 with the
    reason when it does not verify."""
    note, key_text = _read(path, "receipt"), _read(key, "key file")
    try:
        decision = open_receipt(note, NoteVerifier.from_text(key_text))
    except ValueError as exc:
        err.print(f"INVALID: {exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(orjson.dumps(decision, option=orjson.OPT_SORT_KEYS).decode(), markup=False)
