"""Tested documentation: the CLI reference is current, the README and CI agree, the layers page
is the import contract."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from xinyong.cli.app import app
from xinyong.cli.reference import command_paths, render
from xinyong.domain.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    expected = render(app)
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: python -m xinyong.cli.reference > docs/cli.md"


def test_every_command_has_help() -> None:
    text = render(app)
    for path in command_paths(app):
        title = " ".join(["xinyong", *path])
        section = text.split(f"## `{title}`\n", 1)[1].split("\n## ", 1)[0]
        _, _, rest = section.partition("\n\n")
        assert rest.strip(), f"{title} has no help text"


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", readme, flags=re.S)


def test_readme_starts_with_the_two_commands() -> None:
    demo, tests = _readme_commands()[:2]
    assert demo.endswith("xinyong demo")
    assert "pytest" in tests


def test_readme_lists_every_command_group() -> None:
    """The README's command table names every top-level command and group of the CLI."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    names = sorted({path[0] for path in command_paths(app) if path})
    missing = [n for n in names if f"`xinyong {n}" not in table and f"`{n} " not in table]
    assert not missing, f"the README's command table does not name {missing}"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    tests = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def test_architecture_doc_shows_the_layers_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    shown = doc.split("```text\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert shown == [layer.replace("xinyong.", "") for layer in layers]


def test_ledger_doc_counts_the_bundled_codes() -> None:
    codes = len(load_catalog().codes)
    assert f"lists {codes}\ncodes" in (ROOT / "docs" / "ledger.md").read_text(encoding="utf-8")


def test_every_route_and_setting_is_documented(tmp_path: Path) -> None:
    from tests.support.service_fixtures import make_service
    from xinyong.application.settings import SETTINGS

    text = (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
    service = make_service(f"sqlite:///{tmp_path / 'l.db'}")
    for path in service.app.openapi()["paths"]:
        assert f"{path}" in text, f"{path} is not in docs/service.md"
    service.engine.dispose()
    for name in SETTINGS:
        assert f"`{name}`" in text, f"setting {name} is not documented"


def test_every_portal_page_and_form_is_documented() -> None:
    from fastapi.routing import APIRoute

    from xinyong.web import ROUTERS

    text = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")
    pages = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(pages) > 20
    for route in pages:
        if "POST" in route.methods:
            assert f"`POST {route.path}`" in text, f"form {route.path} is not in docs/web.md"
        elif route.path.endswith(".json") and route.path not in ("/index.json", "/login.json"):
            assert f"`{route.path.removesuffix('.json')}`" in text  # a twin of a documented page
        else:
            assert f"`{route.path}`" in text, f"page {route.path} is not in docs/web.md"
