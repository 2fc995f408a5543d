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
    help="Check signed receipts and credit reports offline, with the ledger's verifier key.",
    no_args_is_help=True,
)

KeyFileOption = Annotated[
    Path,
    typer.Option(
        "--key", help="A file holding the ledger's verifier key (GET /v1/ledger/public-key)."
    ),
]


def _read(path: Path, what: str, *, exact: bool = False) -> str:
    """The file's text; ``exact``: as its bytes are (no newline translation)."""
    try:
        return path.read_bytes().decode() if exact else path.read_text(encoding="utf-8")
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


@verify_app.command("report")
def report(
    path: Annotated[Path, typer.Argument(help="The credit report (an HTML file).")],
    key: KeyFileOption,
) -> None:
    """Check a credit report offline: its signature, the signed checkpoint, every entry's
    inclusion proof, the receipts of the checks it lists, and that the page shows exactly its
    signed data. Exit 1 with the reason when anything does not verify."""
    from jinja2 import TemplateError

    from xinyong.application.report_check import ReportInvalid, check_report
    from xinyong.documents.credit_report import ReportFileError, read_report, render_report

    html, key_text = _read(path, "report", exact=True), _read(key, "key file")
    try:
        verifier = NoteVerifier.from_text(key_text)
        payload, statement = read_report(html)
        checked = check_report(payload, statement, verifier)
        if render_report(payload, statement) != html:
            raise ReportInvalid("the page does not show its signed data (its text was changed)")
    except (ReportInvalid, ReportFileError, ValueError, TemplateError) as exc:
        err.print(f"INVALID: {exc}", markup=False)
        raise typer.Exit(1) from None
    checks = f"; {checked.checks} checks, each with a valid receipt"
    out.print(
        f"VALID: {checked.kind} report on {checked.subject} as of {checked.as_of}, signed by "
        f"{verifier.name}; {checked.entries} ledger entries proven in the tree of "
        f"{checked.size} ({checked.root}); {checked.records} records shown"
        + (f" ({checked.withheld} ratings without entries)" if checked.withheld else "")
        + (checks if checked.kind == "subject" else ""),
        markup=False,
        highlight=False,
    )
