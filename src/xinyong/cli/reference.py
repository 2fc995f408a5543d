"""The CLI reference (``docs/cli.md``), generated from the commands' own ``--help``.

``python -m xinyong.cli.reference > docs/cli.md`` regenerates it; a test fails when the file and
the commands disagree, so every command and option stays documented.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

__all__ = ["command_paths", "render"]

_WIDTH = "100"


def command_paths(app: typer.Typer) -> Iterator[list[str]]:
    """Every command path of the app, depth first in sorted order (``["ledger", "verify"]``)."""
    root = typer.main.get_command(app)
    context = typer.Context(root)

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        if isinstance(command, TyperGroup):  # the root loads its commands as they are asked for
            for name in sorted(command.list_commands(context)):
                yield from walk(command.get_command(context, name), [*path, name])

    yield from walk(root, [])


def render(app: typer.Typer) -> str:
    """The Markdown reference: one section per command with its ``--help`` text."""
    runner = CliRunner()
    env = {"COLUMNS": _WIDTH, "TERM": "dumb", "NO_COLOR": "1", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}
    parts = [
        "# CLI reference\n",
        "Generated from `--help` by `python -m xinyong.cli.reference > docs/cli.md`; "
        "a test keeps it current.\n",
    ]
    for path in command_paths(app):
        result = runner.invoke(app, [*path, "--help"], env=env, prog_name="xinyong")
        title = " ".join(["xinyong", *path])
        body = "\n".join(line.rstrip() for line in result.output.strip().splitlines())
        parts.append(f"## `{title}`\n\n```text\n{body}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    from xinyong.cli.app import app

    os.environ.setdefault("COLUMNS", _WIDTH)
    print(render(app), end="")
