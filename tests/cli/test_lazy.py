"""The root command loads a command's module only when that command runs, and lists each with
its own help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from xinyong.cli.app import app
from xinyong.cli.lazy import COMMANDS, load

HEAVY = ("ibis", "duckdb", "scipy", "fastapi", "pyarrow", "pandas", "sqlalchemy", "matplotlib")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_is_listed_with_its_own_help(name: str) -> None:
    command = load(name)
    assert command.name == name
    first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
    assert COMMANDS[name].help == first_paragraph


def test_the_root_runs_the_loaded_commands() -> None:
    root = typer.main.get_command(app)
    context = typer.Context(root)
    assert root.list_commands(context) == list(COMMANDS)
    assert root.get_command(context, "ledger") is load("ledger")
    assert root.get_command(context, "no-such-command") is None


def _imported_after(args: list[str]) -> list[str]:
    """The heavy top-level modules imported by a whole ``xinyong ARGS`` process."""
    program = (
        "import json, sys\n"
        "from xinyong.cli.app import main\n"
        f"sys.argv = ['xinyong', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args", [[], ["--version"], ["--help"], ["id", "check", "110101199003074477"], ["id", "--help"]]
)
def test_the_quick_commands_import_nothing_heavy(args: list[str]) -> None:
    """``--help``, ``--version`` and ``id check`` answer at once (docs/benchmarks.md)."""
    assert _imported_after(args) == []


def test_a_command_that_needs_its_libraries_gets_them() -> None:
    assert "sqlalchemy" in _imported_after(["ledger", "head", "--db", "/nonexistent/x.db"])


def test_scoring_a_file_without_peer_ratings_does_not_load_scipy(tmp_path: Path) -> None:
    """``xinyong score`` of a scheme without ``[peer]`` needs neither SciPy (the peer
    algorithms) nor what ``xinyong explain`` reads (its own module)."""
    records = tmp_path / "records.csv"
    records.write_text(
        "record_id,subject_id,subject_kind,code,occurred_at,source\n"
        "r1,110101199003074477,person,court.defaulter,2026-01-02,court\n",
        encoding="utf-8",
    )
    out = tmp_path / "standings.csv"
    args = ["score", "rongcheng", "--records", str(records), "--as-of", "2026-10-31"]
    program = (
        "import json, sys\n"
        "from xinyong.cli.app import main\n"
        f"sys.argv = ['xinyong', *{[*args, '--out', str(out)]!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy' or "
        "m.startswith(('xinyong.cli.explain', 'xinyong.decisions')))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert "subject_id" in out.read_text(encoding="utf-8").splitlines()[0]
