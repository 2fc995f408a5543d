"""The ``xinyong`` command line: one Typer app, one module per command group (imported when
its command runs: :mod:`xinyong.cli.lazy`)."""

from __future__ import annotations

import typer

from xinyong import __version__
from xinyong.cli.lazy import LazyRoot

__all__ = ["app", "main"]

app = typer.Typer(
    name="xinyong",
    cls=LazyRoot,  # each command's module is imported when that command runs
    help="xinyong (信用): an open, auditable social credit engine with due process by "
    "construction.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets or personal data
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xinyong {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """xinyong (信用): an open, auditable social credit engine with due process by construction."""


def main() -> None:
    """Console-script entry point."""
    app()
