"""The activation gate through the CLI and the store: a scheme with a guardrail finding is not
activated without an override, given with a reason and the official responsible, recorded in
the ledger (verifiable like any entry) and listed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from tests.support.findings import FINDINGS, FOREVER, LAWFUL
from xinyong.cli.app import app
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import load_catalog
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import schemes
from xinyong.pilots import bundled_pilots
from xinyong.schemes.lint import lint
from xinyong.schemes.load import load_scheme, parse_scheme
from xinyong.schemes.overrides import guardrail_findings, make_override
from xinyong.scoring.store import (
    GuardrailsUnmet,
    SchemeRefused,
    activate_scheme,
    add_scheme,
    deactivate_scheme,
    recorded_overrides,
    stored_versions,
)

runner = CliRunner()
OFFICIAL = "Li Ming, deputy director"


def _file(tmp_path: Path, text: str, name: str = "scheme.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _stored(url: str) -> list[dict[str, object]]:
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            return stored_versions(conn)
    finally:
        engine.dispose()


@pytest.mark.parametrize("check", sorted(FINDINGS))
def test_the_cli_refuses_each_finding_until_it_is_overridden_on_the_record(
    check: str, ledger_url: str, tmp_path: Path
) -> None:
    path = _file(tmp_path, FINDINGS[check])
    loaded = parse_scheme(FINDINGS[check])
    refused = runner.invoke(app, ["scheme", "add", str(path), "--db", ledger_url])
    assert refused.exit_code == 2, refused.output
    assert f"[{check}]" in refused.output
    assert f"--override '{check}@" in refused.output  # says how to override it
    assert "not activated (nothing was stored)" in refused.output
    assert "Traceback" not in refused.output
    assert _stored(ledger_url) == []

    no_official = runner.invoke(
        app, ["scheme", "add", str(path), "--db", ledger_url, "--override", f"{check}=because"]
    )
    assert no_official.exit_code == 2
    assert "--override needs --official" in no_official.output

    reason = f"pilot approved by the municipal credit office ({check})"
    added = runner.invoke(
        app,
        [
            "scheme",
            "add",
            str(path),
            "--db",
            ledger_url,
            "--override",
            f"{check}={reason}",
            "--official",
            OFFICIAL,
        ],
    )
    assert added.exit_code == 0, added.output
    assert f"activated despite {check}@" in added.output
    assert [(v["scheme_id"], v["active"]) for v in _stored(ledger_url)] == [
        (loaded.scheme.id, True)
    ]
    listed = runner.invoke(app, ["scheme", "overrides", "--db", ledger_url, "--json"])
    assert listed.exit_code == 0
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert row["finding"].startswith(f"{check}@")
    assert (row["reason"], row["official"], row["version"]) == (reason, OFFICIAL, loaded.version)
    assert row["operator"].startswith("cli:")

    # the override is a ledger entry: verified with the rest, and named in the checkpoint note
    verified = runner.invoke(app, ["ledger", "verify", "--db", ledger_url])
    assert verified.exit_code == 0, verified.output
    head = json.loads(runner.invoke(app, ["ledger", "head", "--db", ledger_url, "--json"]).output)
    assert head["size"] == 1


def test_an_override_is_given_per_finding_and_must_name_one(
    ledger_url: str, tmp_path: Path
) -> None:
    text = FINDINGS["bare-score-sanction"].replace('basis = "SPC', 'basis = "TODO"\n# "SPC', 1)
    path = _file(tmp_path, text)
    base = ["scheme", "add", str(path), "--db", ledger_url, "--official", OFFICIAL]
    half = runner.invoke(app, [*base, "--override", "bare-score-sanction=needed"])
    assert half.exit_code == 2
    assert "sanction-without-basis" in half.output  # the finding still without an override
    typo = runner.invoke(
        app,
        [*base, "--override", "bare-score-sanction=x", "--override", "no-seeds=y"],
    )
    assert typo.exit_code == 2
    assert "'no-seeds' names no finding of this scheme" in typo.output
    unknown = runner.invoke(app, [*base, "--override", "anything-goes=x"])
    assert unknown.exit_code == 2
    assert "not a guardrail finding" in unknown.output
    both = runner.invoke(
        app,
        [
            *base,
            "--override",
            "bare-score-sanction@measures.gate-no-flights.grades=the grade is the finding",
            "--override",
            "sanction-without-basis=the law is being drafted",
        ],
    )
    assert both.exit_code == 0, both.output
    engine = open_database(ledger_url)
    try:
        with engine.connect() as conn:
            found = recorded_overrides(conn, "gate-test")
    finally:
        engine.dispose()
    assert sorted((r.finding, r.reason, r.official) for r in found) == [
        (
            "bare-score-sanction@measures.gate-no-flights.grades",
            "the grade is the finding",
            OFFICIAL,
        ),
        (
            "sanction-without-basis@measures.gate-no-flights.basis",
            "the law is being drafted",
            OFFICIAL,
        ),
    ]
    assert all(r.operator.startswith("cli:") for r in found)


def test_a_stored_version_passes_the_gate_at_activation(ledger_url: str, tmp_path: Path) -> None:
    path = _file(tmp_path, FINDINGS["no-expiry"])
    version = parse_scheme(FINDINGS["no-expiry"]).version
    stored = runner.invoke(app, ["scheme", "add", str(path), "--db", ledger_url, "--no-activate"])
    assert stored.exit_code == 0, stored.output
    refused = runner.invoke(
        app, ["scheme", "activate", "gate-test", version[:12], "--db", ledger_url]
    )
    assert refused.exit_code == 2
    assert "[no-expiry]" in refused.output
    assert "nothing was stored" not in refused.output
    activated = runner.invoke(
        app,
        [
            "scheme",
            "activate",
            "gate-test",
            version[:12],
            "--db",
            ledger_url,
            "--override",
            "no-expiry=a life ban set by statute",
            "--official",
            OFFICIAL,
        ],
    )
    assert activated.exit_code == 0, activated.output
    # deactivated and activated again: the override on the record still covers the finding
    assert (
        runner.invoke(app, ["scheme", "deactivate", "gate-test", "--db", ledger_url]).exit_code == 0
    )
    again = runner.invoke(
        app, ["scheme", "activate", "gate-test", version[:12], "--db", ledger_url]
    )
    assert again.exit_code == 0, again.output
    assert "activated despite no-expiry@rules.court.points" in again.output


def test_a_scheme_with_errors_is_never_stored(ledger_url: str, tmp_path: Path) -> None:
    path = _file(tmp_path, FOREVER)
    refused = runner.invoke(
        app,
        [
            "scheme",
            "add",
            str(path),
            "--db",
            ledger_url,
            "--override",
            "no-expiry=x",
            "--official",
            OFFICIAL,
        ],
    )
    assert refused.exit_code == 2
    assert "[outlives-catalog]" in refused.output  # 100 years: longer than the catalog shows it
    assert "[no-expiry]" in refused.output
    assert _stored(ledger_url) == []
    engine = open_database(ledger_url)
    try:
        with pytest.raises(SchemeRefused), engine.begin() as conn:
            add_scheme(conn, parse_scheme(FOREVER), activate=False, catalog=load_catalog())
    finally:
        engine.dispose()


def test_the_store_gate_without_the_cli(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    loaded = parse_scheme(FINDINGS["protected-attribute"])
    try:
        with pytest.raises(GuardrailsUnmet) as unmet, engine.begin() as conn:
            add_scheme(conn, loaded)
        assert [f.ref for f in unmet.value.findings] == [
            "protected-attribute@rules.court.when.minzu_code"
        ]
        override = make_override("protected-attribute", "court order 12/2026", OFFICIAL)
        with engine.begin() as conn:
            recorded = add_scheme(conn, loaded, overrides=[override], operator="ops")
            assert recorded
            deactivate_scheme(conn, "gate-test")
            again = activate_scheme(conn, "gate-test", loaded.version)
        assert [(r.finding, r.operator) for r in again] == [
            ("protected-attribute@rules.court.when.minzu_code", "ops")
        ]
        with engine.begin() as conn:  # a lawful scheme needs nothing and records nothing
            fine = LAWFUL.replace('id = "gate-test"', 'id = "fine"').replace("gate-no", "fine-no")
            add_scheme(conn, parse_scheme(fine))
            assert recorded_overrides(conn, "fine") == []
    finally:
        engine.dispose()


def test_bundled_pilots_need_no_override(ledger_url: str) -> None:
    engine = open_database(ledger_url)
    try:
        with engine.begin() as conn:
            for path in bundled_pilots().values():
                add_scheme(conn, load_scheme(path), catalog=load_catalog())
            assert recorded_overrides(conn) == []
    finally:
        engine.dispose()


def test_a_version_active_without_the_gate_decides_nothing(ledger_url: str) -> None:
    """A version made active before the gate existed (or under another catalog) is not used
    until it passes the gate: its measures are defined by no active scheme meanwhile."""
    engine = open_database(ledger_url)
    loaded = parse_scheme(FINDINGS["bare-score-sanction"])
    try:
        with engine.begin() as conn:
            add_scheme(conn, loaded, activate=False)
            conn.execute(update(schemes).values(active=True))  # as an older release did
        with engine.connect() as conn:
            assert SchemeRegistry().active(conn) == []
            assert SchemeRegistry().for_measure(conn, "gate-no-flights") is None
        override = make_override("bare-score-sanction", "the council voted for it", OFFICIAL)
        with engine.begin() as conn:
            activate_scheme(conn, "gate-test", loaded.version, overrides=[override])
        with engine.connect() as conn:
            assert [s.version for s in SchemeRegistry().active(conn)] == [loaded.version]
        # a catalog that protects more blocks it again, until overridden under that catalog
        strict = replace(load_catalog(), protected_attributes=frozenset({"hukou"}))
        hukou = FINDINGS["bare-score-sanction"].replace(
            'valid_for = "2y"\n', 'valid_for = "2y"\nwhen = "hukou = \'rural\'"\n'
        )
        with engine.begin() as conn:
            add_scheme(conn, parse_scheme(hukou), overrides=[override])
        with engine.connect() as conn:
            assert len(SchemeRegistry().active(conn)) == 1
            assert SchemeRegistry(catalog=strict).active(conn) == []
    finally:
        engine.dispose()


def test_two_protected_attributes_in_one_rule_need_two_overrides() -> None:
    text = FINDINGS["protected-attribute"].replace(
        "when = \"minzu_code = 'x'\"", "when = \"minzu_code = 'x' and religion = 'y'\""
    )
    refs = sorted(f.ref for f in guardrail_findings(lint(parse_scheme(text))))
    assert refs == [
        "protected-attribute@rules.court.when.minzu_code",
        "protected-attribute@rules.court.when.religion",
    ]
