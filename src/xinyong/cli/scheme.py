"""``xinyong scheme``: store scheme versions in the ledger database."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, select

from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    err,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
)
from xinyong.cli.score import checked_scheme
from xinyong.domain.catalog import Catalog
from xinyong.ledger.schema import schemes
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.overrides import Override, OverrideError, parse_override
from xinyong.scoring.store import (
    GuardrailsUnmet,
    MeasureTaken,
    RecordedOverride,
    SchemeRefused,
    UnknownScheme,
    deactivate_scheme,
    recorded_overrides,
)

__all__ = ["scheme_app"]

scheme_app = typer.Typer(help="Store and activate scheme versions.", no_args_is_help=True)


OverrideOption = Annotated[
    list[str] | None,
    typer.Option(
        "--override",
        help="Activate despite a guardrail finding: FINDING=REASON, where FINDING is a check "
        "(every finding of it) or CHECK@WHERE as the refusal lists it. Repeat per finding; "
        "needs --official. Recorded in the ledger and published.",
    ),
]
OfficialOption = Annotated[
    str,
    typer.Option(help="The official responsible for the overrides (name and post)."),
]


def _overrides(given: list[str] | None, official: str) -> list[Override]:
    if given and not official.strip():
        fail("--override needs --official: the name of the official responsible")
    try:
        return [parse_override(text, official) for text in given or ()]
    except OverrideError as exc:
        fail(str(exc))


def _gate(
    engine: Engine,
    loaded: LoadedScheme | None,
    scheme_id: str,
    version: str,
    catalog: Catalog,
    overrides: list[Override],
    activate: bool,
) -> tuple[bool, list[RecordedOverride]]:
    """Store (with ``loaded``) and/or activate through the gate, in one write transaction;
    exit 2 with the reasons when it refuses."""
    from datetime import date

    from xinyong.application.scheme_gate import store_and_activate

    if overrides and not activate:
        engine.dispose()
        fail("overrides are given when activating: drop --no-activate")
    try:
        added, recorded = store_and_activate(
            engine,
            loaded,
            scheme_id,
            version,
            activate=activate,
            catalog=catalog,
            overrides=overrides,
            operator=f"cli:{getpass.getuser()}",
            today=date.today(),
        )
    except GuardrailsUnmet as exc:
        for finding in exc.findings:
            err.print(
                f"{finding}\n    override as: --override '{finding.ref}=REASON'", markup=False
            )
        stored = " (nothing was stored)" if loaded is not None else ""
        fail(
            f"{scheme_id} {exc.version[:12]}: not activated{stored}: "
            f"{len(exc.findings)} guardrail finding(s) need an override with --override and "
            "--official, or fix the scheme"
        )
    except SchemeRefused as exc:
        for issue in exc.errors:
            err.print(str(issue), markup=False)
        fail(f"{scheme_id}: the scheme has errors under the catalog in force; not activated")
    except (UnknownScheme, MeasureTaken, OverrideError) as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    return added, recorded


def _print_overrides(recorded: list[RecordedOverride]) -> None:
    for r in recorded:
        out.print(
            f"  activated despite {r.finding}, because {r.reason!r}, by {r.official} "
            f"(recorded {r.effective_on.isoformat()})",
            markup=False,
        )


@scheme_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="Scheme TOML file.")],
    db: DbOption = None,
    activate: Annotated[bool, typer.Option(help="Make this version the active one.")] = True,
    catalog: CatalogOption = None,
    override: OverrideOption = None,
    official: OfficialOption = "",
) -> None:
    """Store a scheme under its content hash and make it active.

    Refused when it has lint errors, when a measure it defines belongs to another active scheme,
    or when it has guardrail findings (protected attribute, bare-score sanction, sanction
    without basis, no expiry, no seeds, status weighting, gate without a path back) that no
    --override covers. With --no-activate it is stored, not active, and the gate applies at
    `scheme activate`.
    """
    entries = load_catalog_or_exit(catalog)
    loaded = checked_scheme(file, entries)
    overrides = _overrides(override, official)
    added, recorded = _gate(
        open_db_or_exit(db), loaded, loaded.scheme.id, loaded.version, entries, overrides, activate
    )
    state = "added" if added else "already stored"
    out.print(f"{loaded.scheme.id} {loaded.version}: {state}" + (", active" if activate else ""))
    _print_overrides(recorded)


@scheme_app.command("list")
def list_schemes(db: DbOption = None) -> None:
    """List stored schemes and their versions."""
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    schemes.c.scheme_id,
                    schemes.c.version,
                    schemes.c.name,
                    schemes.c.added_at,
                    schemes.c.active,
                ).order_by(schemes.c.scheme_id, schemes.c.added_at)
            ).all()
    finally:
        engine.dispose()
    table = Table(title="Stored schemes")
    for column in ("id", "version", "name", "added", "active"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.scheme_id, row.version[:12], row.name, row.added_at, "yes" if row.active else ""
        )
    out.print(table)


@scheme_app.command("activate")
def activate_command(
    scheme_id: Annotated[str, typer.Argument(help="Scheme id.")],
    version: Annotated[str, typer.Argument(help="Version hash or a unique prefix of it.")],
    db: DbOption = None,
    catalog: CatalogOption = None,
    override: OverrideOption = None,
    official: OfficialOption = "",
) -> None:
    """Make a stored version the active one, through the same gate as `scheme add` (overrides
    recorded at an earlier activation of the version still count)."""
    entries = load_catalog_or_exit(catalog)
    overrides = _overrides(override, official)
    _, recorded = _gate(open_db_or_exit(db), None, scheme_id, version, entries, overrides, True)
    out.print(f"{scheme_id}: version {version} is active")
    _print_overrides(recorded)


@scheme_app.command("overrides")
def overrides_command(
    scheme_id: Annotated[str | None, typer.Argument(help="Only this scheme.")] = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one override each.")] = False,
) -> None:
    """Every override in the ledger: which version was activated despite which finding, why,
    and who is responsible."""
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            found = recorded_overrides(conn, scheme_id)
    finally:
        engine.dispose()
    if as_json:
        for r in found:
            row = {"scheme": r.scheme_id, "version": r.version, "operator": r.operator}
            typer.echo(orjson.dumps({**row, **r.public()}).decode())
        return
    table = Table(title="Activated despite guardrail findings")
    for column in ("scheme", "version", "finding", "reason", "official", "recorded"):
        table.add_column(column, overflow="fold")
    for r in found:
        cells = (r.scheme_id, r.version[:12], r.finding, r.reason, r.official)
        table.add_row(*(Text(c) for c in cells), r.effective_on.isoformat())
    out.print(table if found else "no scheme was activated despite a guardrail finding")


@scheme_app.command("deactivate")
def deactivate_command(
    scheme_id: Annotated[str, typer.Argument(help="Scheme id.")],
    db: DbOption = None,
) -> None:
    """Make no version of a scheme active: its measures stop applying to every check."""
    engine = open_db_or_exit(db)
    try:
        with engine.begin() as conn:
            deactivate_scheme(conn, scheme_id)
    except UnknownScheme as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    out.print(f"{scheme_id}: no version is active")
