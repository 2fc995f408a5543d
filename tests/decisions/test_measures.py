"""A measure belongs to one active scheme, and relying parties are told about measures that
none defines."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.ledgers import new_ledger
from tests.support.overridden import add_overridden, overridden_body, override_args, overrides_for
from tests.support.service_fixtures import SCHEME, make_service
from xinyong.cli.app import app
from xinyong.decisions.relying import AlreadyRegistered, register_relying_party
from xinyong.ledger.database import open_database
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme, parse_scheme
from xinyong.scoring.store import (
    MeasureTaken,
    activate_scheme,
    active_measures,
    deactivate_scheme,
)

runner = CliRunner()
TAKER = SCHEME.read_text(encoding="utf-8").replace('id = "rongcheng"', 'id = "copycat"', 1)
"""Another scheme that defines the example scheme's measure ``restrict-flights``."""


def test_bundled_pilots_own_distinct_measures() -> None:
    seen: dict[str, str] = {}
    for name, path in bundled_pilots().items():
        for measure in load_scheme(path).scheme.measures:
            assert measure.id not in seen, f"{measure.id} in {name} and {seen[measure.id]}"
            seen[measure.id] = name


def test_an_active_measure_cannot_be_taken_over(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    try:
        with engine.begin() as conn:
            add_overridden(conn, load_scheme(SCHEME))
        with pytest.raises(MeasureTaken) as taken, engine.begin() as conn:
            add_overridden(conn, parse_scheme(TAKER))
        assert taken.value.taken == {"restrict-flights": "rongcheng"}
        assert "'restrict-flights' belongs to active scheme 'rongcheng'" in str(taken.value)
        with engine.connect() as conn:  # refused whole: not even stored
            assert set(active_measures(conn)) == {"rongcheng"}
            stored = conn.exec_driver_sql("SELECT count(*) FROM schemes").scalar()
        assert stored == 1
        # a new version of the owner keeps its measures
        newer = SCHEME.read_text(encoding="utf-8").replace("base = 1000", "base = 1001")
        with engine.begin() as conn:
            add_overridden(conn, parse_scheme(newer))
        # stored but inactive, the other scheme still cannot be activated beside the owner
        with engine.begin() as conn:
            add_overridden(conn, parse_scheme(TAKER), activate=False)
        version = parse_scheme(TAKER).version
        with pytest.raises(MeasureTaken), engine.begin() as conn:
            activate_scheme(conn, "copycat", version, overrides=overrides_for(parse_scheme(TAKER)))
        # once the owner is deactivated the measure is free
        with engine.begin() as conn:
            deactivate_scheme(conn, "rongcheng")
            activate_scheme(conn, "copycat", version, overrides=overrides_for(parse_scheme(TAKER)))
            assert active_measures(conn) == {"copycat": frozenset({"restrict-flights"})}
    finally:
        engine.dispose()


def test_the_cli_says_who_owns_the_measure(tmp_path: Path) -> None:
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    taker = tmp_path / "copycat.toml"
    taker.write_text(TAKER, encoding="utf-8")
    assert (
        runner.invoke(
            app, ["scheme", "add", str(SCHEME), "--db", url, *override_args(SCHEME)]
        ).exit_code
        == 0
    )
    refused = runner.invoke(app, ["scheme", "add", str(taker), "--db", url, *override_args(taker)])
    assert refused.exit_code == 2
    assert "belongs to active scheme 'rongcheng'" in refused.output
    assert runner.invoke(app, ["scheme", "deactivate", "rongcheng", "--db", url]).exit_code == 0
    again = runner.invoke(app, ["scheme", "add", str(taker), "--db", url, *override_args(taker)])
    assert again.exit_code == 0, again.output


def test_the_api_refuses_a_measure_taken_over(tmp_path: Path) -> None:
    service = make_service(f"sqlite:///{tmp_path / 'ledger.db'}")

    async def run() -> None:
        async with service.client() as client:
            operator = service.headers("operator")
            posted = await client.post(
                "/v1/schemes",
                json=overridden_body(TAKER),
                headers=operator,
            )
            assert posted.status_code == 409, posted.text
            assert "rongcheng" in posted.json()["detail"]
            gone = await client.post("/v1/schemes/rongcheng/deactivate", headers=operator)
            assert gone.status_code == 200, gone.text
            check = await client.get(
                "/v1/checks",
                params={"subject": "ext:a", "measure": "restrict-flights"},
                headers=service.headers("relying"),
            )
            assert check.status_code == 404  # nobody defines it now
            posted = await client.post(
                "/v1/schemes",
                json=overridden_body(TAKER),
                headers=operator,
            )
            assert posted.status_code == 201, posted.text
            missing = await client.post("/v1/schemes/rongcheng/deactivate", headers=operator)
            assert missing.status_code == 404

    asyncio.run(run())
    service.engine.dispose()


def test_registering_for_an_undefined_measure_warns(tmp_path: Path) -> None:
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    assert (
        runner.invoke(
            app, ["scheme", "add", str(SCHEME), "--db", url, *override_args(SCHEME)]
        ).exit_code
        == 0
    )
    added = runner.invoke(
        app,
        [
            "relying",
            "add",
            "airline",
            "--measure",
            "restrict-flights",
            "--measure",
            "restrict-flight",
            "--purpose",
            "tickets",
            "--db",
            url,
        ],
    )
    assert added.exit_code == 0, added.output
    assert "no active scheme defines measure 'restrict-flight'" in added.output
    assert "'restrict-flights'" not in added.output.split("warning")[-1]
    again = runner.invoke(
        app, ["relying", "add", "airline", "--measure", "x", "--purpose", "p", "--db", url]
    )
    assert again.exit_code == 2
    assert "registered already" in again.output
    engine = open_database(url)
    try:
        with pytest.raises(AlreadyRegistered), engine.begin() as conn:
            register_relying_party(conn, "airline", ["x"], "p")
        with engine.begin() as conn:
            done = register_relying_party(conn, "bank", ["restrict-flights"], "loans")
        assert done.warnings() == []
    finally:
        engine.dispose()


def test_two_schemes_taking_one_measure_at_once_cannot_both_win(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    first = parse_scheme(TAKER)
    second = parse_scheme(TAKER.replace('id = "copycat"', 'id = "copycat-2"', 1))
    outcome: list[BaseException | None] = []
    try:
        with engine.begin() as conn:
            add_overridden(conn, first)  # holds the schemes lock until it commits

            def other() -> None:
                try:
                    with engine.begin() as conn2:
                        add_overridden(conn2, second)
                except BaseException as exc:  # the refusal is the expected outcome
                    outcome.append(exc)
                else:
                    outcome.append(None)

            racer = threading.Thread(target=other)
            racer.start()
            racer.join(timeout=1.0)
            assert racer.is_alive()  # waiting for the lock, not deciding on a stale read
        racer.join(timeout=60)
        assert len(outcome) == 1
        assert isinstance(outcome[0], MeasureTaken)
        with engine.connect() as conn:
            assert set(active_measures(conn)) == {"copycat"}
    finally:
        engine.dispose()
