"""``xinyong id``: check resident ID numbers and Unified Social Credit Codes from the shell.

The output is one tab-separated line per value (``VALUE<TAB>KIND<TAB>REASON<TAB>CANONICAL``),
plain text with no markup, so it can be piped into ``cut``, ``awk`` or a spreadsheet.
"""

from __future__ import annotations

from typing import Annotated

import typer

from xinyong.domain.identifiers import classify

__all__ = ["app", "check", "ids"]

app = typer.Typer(
    help="Check Chinese identifiers: resident ID numbers and Unified Social Credit Codes.",
    no_args_is_help=True,
)

INVALID = "invalid"


@app.callback()
def ids() -> None:
    """Check Chinese identifiers: resident ID numbers and Unified Social Credit Codes."""
    # A callback keeps `check` a named sub-command; a Typer app with a single command and no
    # callback would otherwise run that command directly.


@app.command("check")
def check(
    values: Annotated[
        list[str],
        typer.Argument(
            help="Identifiers to check, as given (full-width characters and a lower-case x are "
            "read as their canonical form; spaces or hyphens inside a value make it invalid).",
            show_default=False,
        ),
    ],
) -> None:
    """Print VALUE, its kind (resident-id, uscc or invalid), the reason it is invalid and its
    canonical form (the one every command and the service use).

    Exits with status 1 when any value is invalid, so scripts can test the result.
    """
    any_invalid = False
    for value in values:
        result = classify(value)
        kind = str(result.kind) if result.kind is not None else INVALID
        any_invalid = any_invalid or not result.valid
        canonical = result.value if result.valid else ""
        # The value is echoed as given so a caller can join the output back to its input.
        typer.echo(f"{value}\t{kind}\t{result.reason or ''}\t{canonical}")
    if any_invalid:
        raise typer.Exit(code=1)
