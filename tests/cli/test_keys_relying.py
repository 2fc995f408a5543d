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
