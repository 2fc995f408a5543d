"""``xinyong relying add/list/withdraw`` and ``xinyong keys list``: the use cases the console
runs too, with the same checks."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from tests.support.ledgers import new_ledger
from xinyong.cli.app import app

runner = CliRunner()


def _run(url: str, *args: str) -> tuple[int, str]:
    done = runner.invoke(app, [*args, "--db", url])
    return done.exit_code, done.output


def test_a_party_is_registered_listed_and_withdrawn(tmp_path: Path) -> None:
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    code, out = _run(
        url,
        "relying",
        "add",
        "rail",
        "--measure",
        "no-premium-travel",
        "--purpose",
        "tickets",
        "--webhook",
        "https://hooks.example/rail/T0KEN",
    )
    assert code == 0, out
    secret = out.split("webhook secret (verifies the signature of every message): ")[1].split()[0]
    assert "no active scheme defines measure 'no-premium-travel'" in out
    code, token = _run(url, "keys", "create", "--role", "relying", "--name", " rail ")
    assert code == 0, token
    code, listed = _run(url, "relying", "list", "--json")
    assert code == 0, listed
    (party,) = [orjson.loads(line) for line in listed.splitlines()]
    assert (party["name"], party["webhook_host"], party["active_keys"]) == (
        "rail",
        "hooks.example",
        1,
    )
    code, table = _run(url, "relying", "list")
    for shown in (listed, table):
        assert secret not in shown
        assert "T0KEN" not in shown

    code, out = _run(url, "relying", "withdraw", "rail")
    assert code == 0, out
    key_id = token.strip().split("_")[1]
    assert out.strip() == f"rail: 1 key(s) revoked: {key_id}"
    code, keys = _run(url, "keys", "list", "--json")
    (key,) = [orjson.loads(line) for line in keys.splitlines()]
    assert (key["key_id"], key["name"]) == (key_id, "rail")
    assert key["revoked_at"] is not None
    assert set(key) == {"key_id", "role", "name", "label", "created_at", "revoked_at"}
    code, out = _run(url, "relying", "withdraw", "nobody")
    assert code == 1
    assert "no relying party named nobody" in out


def test_a_registration_is_refused_as_in_the_console(tmp_path: Path) -> None:
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    base = ["relying", "add", "rail", "--measure", "m", "--purpose", "tickets"]
    for webhook, message in [
        ("hooks.example/x", "webhook URL: write it whole"),
        ("http://hooks.example/x", "webhook URL: use https"),
        ("https://u:p@hooks.example/x", "webhook URL: no user name or password"),
    ]:
        code, out = _run(url, *base, "--webhook", webhook)
        assert code == 2
        assert message in out
    assert _run(url, *base, "--webhook", "http://127.0.0.1:9/h")[0] == 0
    code, out = _run(url, *base)
    assert code == 2
    assert "a relying party named rail is registered already" in out


def test_names_and_labels_are_printed_as_written_not_as_markup(tmp_path: Path) -> None:
    """Rich would read ``[/]`` or ``[b]`` in a name as markup: a crash after the commit (the
    webhook secret never shown), or a name listed other than it is."""
    db = str(tmp_path / "ledger.db")
    assert runner.invoke(app, ["ledger", "init", "--db", db]).exit_code == 0
    made = runner.invoke(
        app, ["relying", "add", "rail[/]", "--measure", "m", "--purpose", "p[b]x", "--db", db]
    )
    assert made.exit_code == 0, made.output
    assert "whsec_" in made.output
    key = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--role",
            "relying",
            "--name",
            "rail[/]",
            "--label",
            "ops [dim]team",
            "--db",
            db,
        ],
    )
    assert key.exit_code == 0, key.output
    for listing in (["relying", "list"], ["relying", "list", "--json"], ["keys", "list", "--json"]):
        shown = runner.invoke(app, [*listing, "--db", db])
        assert shown.exit_code == 0, shown.output
        assert "rail[/]" in shown.output
    assert "ops [dim]team" in runner.invoke(app, ["keys", "list", "--json", "--db", db]).output
    withdrawn = runner.invoke(app, ["relying", "withdraw", "rail[/]", "--db", db])
    assert withdrawn.exit_code == 0, withdrawn.output
