"""``xinyong catalog``: what may be collected."""

from __future__ import annotations

import typer
from rich.table import Table

from xinyong.cli.common import CatalogOption, load_catalog_or_exit, out
from xinyong.domain.durations import format_days

__all__ = ["catalog_app"]

catalog_app = typer.Typer(help="Show the code catalog.", no_args_is_help=True)


@catalog_app.command("show")
def show(catalog: CatalogOption = None) -> None:
    """List every collectable code with its tier, display periods and legal basis."""
    cat = load_catalog_or_exit(catalog)
    table = Table(title=f"{cat.title} (version {cat.version})")
    for column in ("code", "category", "tier", "polarity", "display", "legal basis"):
        table.add_column(column, overflow="fold")
    for entry in sorted(cat.codes.values(), key=lambda e: e.code):
        table.add_row(
            entry.code,
            entry.category,
            entry.severity.value,
            entry.polarity.value,
            f"{format_days(entry.min_display_days)}-{format_days(entry.max_display_days)}",
            entry.legal_basis,
        )
    out.print(table)
