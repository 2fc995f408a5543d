"""``xinyong scheme``: store scheme versions in the ledger database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
)
from xinyong.cli.score import checked_scheme
from xinyong.ledger.schema import schemes
from xinyong.scoring.store import (
    MeasureTaken,
    UnknownScheme,
    activate_scheme,
    add_scheme,
    deactivate_scheme,
)

__all__ = ["scheme_app"]

scheme_app = typer.Typer(help="Store and activate scheme versions.", no_args_is_help=True)


@scheme_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="Scheme TOML file.")],
    db: DbOption = None,
    activate: Annotated[bool, typer.Option(help="Make this version the active one.")] = True,
    catalog: CatalogOption = None,
) -> None:
    """Store a scheme under its content hash (refused when it has lint errors, or when a measure
    it defines belongs to another active scheme)."""
    loaded = checked_scheme(file, load_catalog_or_exit(catalog))
    engine = open_db_or_exit(db)
    try:
        with engine.begin() as conn:
            added = add_scheme(conn, loaded, activate=activate)
    except MeasureTaken as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    state = "added" if added else "already stored"
    out.print(f"{loaded.scheme.id} {loaded.version}: {state}" + (", active" if activate else ""))


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
) -> None:
    """Make a stored version the active one (refused when a measure it defines belongs to
    another active scheme)."""
    engine = open_db_or_exit(db)
    try:
        with engine.begin() as conn:
            activate_scheme(conn, scheme_id, version)
    except (UnknownScheme, MeasureTaken) as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    out.print(f"{scheme_id}: version {version} is active")


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
