"""The root command, which imports a command's module only when that command runs.

The command modules import what their work needs (DuckDB, ibis, pyarrow, FastAPI, SciPy): all
imported at start, they took more than a second before ``xinyong --version`` printed anything.
The root knows each command by its name, where it is defined and its one-line help
(:data:`COMMANDS`), lists them for ``--help`` from that, and imports a module when its command
is chosen. ``tests/cli/test_lazy.py`` checks each line of help against the command's own.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

__all__ = ["COMMANDS", "Lazy", "LazyRoot", "load"]


@dataclass(frozen=True)
class Lazy:
    """A command of the root: ``target`` is ``module:attribute``, a Typer app (a command
    group) or a function (a command); ``help`` its one-line help."""

    target: str
    help: str


COMMANDS: dict[str, Lazy] = {
    "ingest": Lazy(
        "xinyong.cli.ingest:ingest",
        "Ingest conduct records; bad rows go to FILE.rejects.csv, good rows are committed.",
    ),
    "export": Lazy(
        "xinyong.cli.export:export",
        "Write the effective records (as of a date, as known at a log size) for batch engines.",
    ),
    "synth": Lazy(
        "xinyong.cli.synth:synth",
        "Generate a synthetic population and its conduct records (reproducible from the seed).",
    ),
    "demo": Lazy(
        "xinyong.cli.demo:demo",
        "Run the main job: synthetic population -> ledger -> verification -> pilots' standings.",
    ),
    "score": Lazy("xinyong.cli.score:score", "Score every subject under a scheme as of a date."),
    "explain": Lazy(
        "xinyong.cli.explain:explain",
        "Explain one subject's standing record by record: what counted, what did not, and why.",
    ),
    "lint": Lazy(
        "xinyong.cli.score:lint_command",
        "Check schemes: errors, and guardrail warnings against unlawful social scoring.",
    ),
    "serve": Lazy(
        "xinyong.cli.serve:serve",
        "Run the decision service (FastAPI on uvicorn; OpenAPI at /docs).",
    ),
    "worker": Lazy(
        "xinyong.cli.serve:worker",
        "Run background work: corrections pushed to relying parties' webhooks, overdue "
        "objections lapsed, the day's standings stored. Any number of workers may run against "
        "one ledger; `xinyong serve` starts one unless given --no-worker.",
    ),
    "id": Lazy(
        "xinyong.cli.ids:app",
        "Check Chinese identifiers: resident ID numbers and Unified Social Credit Codes.",
    ),
    "ledger": Lazy(
        "xinyong.cli.ledger:ledger_app", "Inspect and verify the tamper-evident ledger."
    ),
    "subjects": Lazy(
        "xinyong.cli.ingest:subjects_app", "Register subjects: names and identifiers."
    ),
    "catalog": Lazy("xinyong.cli.catalog:catalog_app", "Show the code catalog."),
    "scheme": Lazy("xinyong.cli.scheme:scheme_app", "Store and activate scheme versions."),
    "keys": Lazy("xinyong.cli.serve:keys_app", "Create, list and revoke API keys."),
    "relying": Lazy(
        "xinyong.cli.serve:relying_app", "Register relying parties and their measures."
    ),
    "report": Lazy("xinyong.cli.serve:report_app", "Reports."),
    "standings": Lazy(
        "xinyong.cli.serve:standings_app", "Batch refresh of standings and list entries."
    ),
    "lab": Lazy(
        "xinyong.cli.lab:lab_app", "The pilot lab: simulate a population under competing schemes."
    ),
    "verify": Lazy(
        "xinyong.cli.verify:verify_app",
        "Check signed receipts and credit reports offline, with the ledger's verifier key.",
    ),
}
"""Every command of the root, in the order ``--help`` lists them."""


@functools.cache
def load(name: str) -> Any:
    """The command ``name`` as Click runs it, its module imported (once)."""
    module, _, attribute = COMMANDS[name].target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    # Registered on a root of its own, as the root itself would have registered it (a group
    # built as a sub-group: no completion options of its own).
    holder = typer.Typer(add_completion=False)
    holder.callback()(_nothing)
    if isinstance(found, typer.Typer):
        holder.add_typer(found, name=name)
    else:
        holder.command(name)(found)
    return typer.main.get_group(holder).commands[name]


def _nothing() -> None:
    """The callback that makes :func:`load`'s holder a group."""


class LazyRoot(TyperGroup):
    """The root group: commands listed from :data:`COMMANDS`, each loaded when it is chosen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False
        # Placeholders with the one-line help: what --help and "did you mean" read.
        for name, lazy in COMMANDS.items():
            self.commands[name] = typer.core.TyperCommand(name, help=lazy.help)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            return self.commands[cmd_name]
        return load(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True  # the list of commands needs their help lines, not their modules
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
