"""Commands that read a ledger refuse one that is not there, in one line, and create nothing;
only ``demo``, ``ingest``, ``subjects load`` and ``ledger init`` create one. ``--db`` takes a
plain path; ``score`` and ``explain`` take a bundled pilot's name and default to the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.support.postgres import new_pg_database
from xinyong.cli.app import app

runner = CliRunner()

READING = [
    ["ledger", "head"],
    ["ledger", "verify"],
    ["ledger", "checkpoint"],
    ["report", "transparency"],
    ["keys", "list"],
    ["keys", "create", "--role", "operator"],
    ["scheme", "list"],
    ["scheme", "add", "rongcheng"],
    ["relying", "add", "airline", "--measure", "no-premium-travel", "--purpose", "boarding"],
    ["standings", "refresh"],
    ["score", "rongcheng", "--as-of", "2026-01-01"],
    ["explain", "rongcheng", "--subject", "91350100M000100Y43", "--as-of", "2026-01-01"],
    ["worker", "--once"],
    ["serve"],
]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no ledger, and no ledger named by the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XINYONG_DATABASE_URL", raising=False)
    return tmp_path


@pytest.mark.parametrize("command", READING, ids=lambda c: " ".join(c[:2]))
def test_a_reading_command_refuses_a_missing_ledger_in_one_line(
    command: list[str], elsewhere: Path
) -> None:
    for where in ([], ["--db", "typo.db"], ["--db", "sqlite:///typo.db"]):
        done = runner.invoke(app, [*command, *where])
        assert done.exit_code == 2, (command, where, done.output)
        shown = "./typo.db" if where else "./xinyong.db"
        lines = done.output.strip().splitlines()
        advice = "run `xinyong demo` or `xinyong ledger init`, or pass --db"
        assert lines == [f"error: no ledger at {shown}: {advice}"], (command, where, done.output)
    assert list(elsewhere.iterdir()) == []  # not even an empty file, nor an inquiry log


def test_a_file_that_is_not_a_ledger_is_refused_and_left_alone(elsewhere: Path) -> None:
    notes = elsewhere / "notes.db"
    notes.write_text("not a database", encoding="utf-8")
    done = runner.invoke(app, ["ledger", "head", "--db", str(notes)])
    assert done.exit_code == 2
    assert f"no ledger at {notes}" in done.output
    assert notes.read_text(encoding="utf-8") == "not a database"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["notes.db"]


def test_ledger_init_creates_one_a_plain_path_names_it(elsewhere: Path) -> None:
    made = runner.invoke(app, ["ledger", "init", "--db", "books/ledger.db"])
    assert made.exit_code == 2  # the folder must exist: a typo in it is not created either
    assert "cannot open the ledger ./books/ledger.db: unable to open database file" in made.output
    (elsewhere / "books").mkdir()
    made = runner.invoke(app, ["ledger", "init", "--db", "books/ledger.db"])
    assert made.exit_code == 0, made.output
    assert made.output.strip() == "ledger at ./books/ledger.db: 0 entries"
    again = runner.invoke(app, ["ledger", "init", "--db", "books/ledger.db"])
    assert again.exit_code == 0, again.output
    head = runner.invoke(app, ["ledger", "head", "--db", "books/ledger.db", "--json"])
    assert head.exit_code == 0, head.output
    assert '"size":0' in head.output


def test_score_and_explain_take_a_pilot_name_and_default_to_the_ledger(elsewhere: Path) -> None:
    assert runner.invoke(app, ["ledger", "init"]).exit_code == 0  # ./xinyong.db
    scored = runner.invoke(app, ["score", "rongcheng", "--as-of", "2026-01-01"])
    assert scored.exit_code == 0, scored.output
    assert scored.output.splitlines()[0] == '"subject_id","score","grade","lists","measures"'
    explained = runner.invoke(
        app,
        [
            "explain",
            "judgment-defaulters",
            "--subject",
            "91350100M000100Y43",
            "--as-of",
            "2026-01-01",
        ],
    )
    assert explained.exit_code == 0, explained.output
    unknown = runner.invoke(app, ["score", "rongchen", "--as-of", "2026-01-01"])
    assert unknown.exit_code == 2
    assert "rongchen: no such scheme file, and no bundled pilot of that name" in unknown.output


@pytest.mark.postgres
def test_a_database_without_a_ledger_is_refused_and_left_empty(pg_server_url: str) -> None:
    with new_pg_database("xinyong_test_empty") as url:
        done = runner.invoke(
            app, ["ledger", "verify", "--db", url.render_as_string(hide_password=False)]
        )
        assert done.exit_code == 2
        assert done.output.strip().startswith(
            f"error: no ledger in the database {url.render_as_string(hide_password=True)}"
        )
        empty = sa.create_engine(url)
        with empty.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        empty.dispose()


def test_a_database_error_is_one_sentence_without_the_password() -> None:
    done = runner.invoke(
        app, ["ledger", "head", "--db", "postgresql+psycopg://me:s3cret@127.0.0.1:1/ledger"]
    )
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert len(lines) == 1, done.output
    assert lines[0].startswith("error: cannot open the ledger postgresql+psycopg://me:***@")
    assert "s3cret" not in done.output
    assert "sqlalche.me" not in done.output
    assert "Background" not in done.output


def test_a_url_that_does_not_parse_is_one_line(elsewhere: Path) -> None:
    for given in ("postgresql+psycopg://me:s3cret@host:notaport/db", "post gres://x/y"):
        done = runner.invoke(app, ["ledger", "head", "--db", given])
        assert done.exit_code == 2, done.output
        lines = done.output.strip().splitlines()
        assert len(lines) == 1, done.output
        assert lines[0].startswith("error: cannot open the ledger named by --db: ")
        assert "s3cret" not in done.output


def test_a_plain_path_is_taken_as_it_is_written(elsewhere: Path) -> None:
    name = "odd?name%20#1.db"
    made = runner.invoke(app, ["ledger", "init", "--db", name])
    assert made.exit_code == 0, made.output
    assert (elsewhere / name).is_file()
    assert runner.invoke(app, ["ledger", "head", "--db", name]).exit_code == 0
