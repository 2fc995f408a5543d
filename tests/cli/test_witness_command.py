"""``xinyong ledger witness``: one line and exit 0 for a log that grew, exit 1 naming a
rollback, with the evidence kept."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from tests.support.service_fixtures import make_service
from tests.support.serving import serve_app
from xinyong.cli.app import app
from xinyong.ledger.database import open_database
from xinyong.server.app import create_app

runner = CliRunner()


def test_the_witness_command_says_ok_then_refuses_a_rollback(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    service = make_service(f"sqlite:///{ledger}")
    state = tmp_path / "witness"
    with serve_app(service.app) as url:
        key = runner.invoke(app, ["ledger", "public-key", "--db", f"sqlite:///{ledger}"])
        assert key.exit_code == 0, key.output
        (tmp_path / "ledger.pub").write_text(key.output, encoding="utf-8")
        first = runner.invoke(
            app,
            ["ledger", "witness", url, "--state", str(state), "--key", f"@{tmp_path}/ledger.pub"],
        )
    assert first.exit_code == 0, first.output
    assert first.output.startswith("ok: checkpoint of")
    # the witness accepted the ledger as it is; serve an empty one with the same key
    empty = tmp_path / "empty" / "ledger.db"
    empty.parent.mkdir()
    shutil.copy2(f"{ledger}.key", f"{empty}.key")
    with serve_app(create_app(open_database(f"sqlite:///{empty}"))) as url:
        refused = runner.invoke(app, ["ledger", "witness", url, "--state", str(state)])
    assert refused.exit_code == 1
    [line] = refused.output.strip().splitlines()
    assert line.startswith("REFUSED: rollback: the log shrank")
    assert "evidence in" in line
    service.engine.dispose()
