"""The ``xinyong`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from xinyong import __version__
from xinyong.cli import (
    catalog,
    demo,
    export,
    ids,
    ingest,
    lab,
    ledger,
    scheme,
    score,
    serve,
    synth,
    verify,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="xinyong",
    help="xinyong (信用): an open, auditable social credit engine with due process by "
    "construction.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets or personal data
    add_completion=False,
)
app.add_typer(ids.app, name="id")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(ingest.subjects_app, name="subjects")
app.add_typer(catalog.catalog_app, name="catalog")
app.command("ingest")(ingest.ingest)
app.command("export")(export.export)
app.command("synth")(synth.synth)
app.command("demo")(demo.demo)
app.command("score")(score.score)
app.command("explain")(score.explain)
app.command("lint")(score.lint_command)
app.add_typer(scheme.scheme_app, name="scheme")
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
app.add_typer(serve.keys_app, name="keys")
app.add_typer(serve.relying_app, name="relying")
app.add_typer(serve.report_app, name="report")
app.add_typer(serve.standings_app, name="standings")
app.add_typer(lab.lab_app, name="lab")
app.add_typer(verify.verify_app, name="verify")


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
