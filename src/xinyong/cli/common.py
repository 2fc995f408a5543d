"""Options, consoles and progress bars shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from xinyong.domain.catalog import Catalog, CatalogError, load_catalog

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "CatalogOption",
    "DbOption",
    "err",
    "fail",
    "load_catalog_or_exit",
    "open_db_or_exit",
    "out",
    "row_progress",
]

out = Console(highlight=False, soft_wrap=True, markup=False)
"""Results go to stdout, as written: they carry names, labels and purposes that anyone with a
form may have typed, and Rich would read ``[/]`` or ``[b]`` in them as markup (a crash after a
commit, or a name shown other than it is); a line that is styled says so with ``markup=True``
and escapes what it interpolates."""
err = Console(stderr=True, highlight=False, soft_wrap=True)
"""Progress, warnings and errors go to stderr."""

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Ledger database URL (default: $XINYONG_DATABASE_URL, else sqlite:///xinyong.db).",
        show_default=False,
    ),
]
CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        help="Code catalog TOML (default: $XINYONG_CATALOG, else the bundled catalog).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error to stderr and exit (2: usage or input errors by convention)."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    raise typer.Exit(code)


def open_db_or_exit(url: str | None, *, create: bool = False) -> Engine:
    """Open (and migrate) the ledger database; exit 2 with one line when it cannot be opened.

    Only commands that create a ledger pass ``create=True``: the others refuse a database that
    holds none (a mistyped ``--db`` must not be answered from a new, empty ledger). The
    ledger's modules are imported here, so that commands that need no ledger start without
    SQLAlchemy.
    """
    from xinyong.ledger.database import NoLedger, database_error, ledger_place, open_database

    try:
        return open_database(url, create=create)
    except NoLedger as exc:
        fail(str(exc))
    except Exception as exc:  # the driver's own error types vary by database
        fail(f"cannot open the ledger {ledger_place(url)}: {database_error(exc)}")


def load_catalog_or_exit(path: Path | None) -> Catalog:
    """Load the code catalog, turning catalog errors into exit 2."""
    try:
        return load_catalog(path)
    except CatalogError as exc:
        fail(str(exc))


class _RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s", style="cyan")


@contextmanager
def row_progress(description: str) -> Iterator[Progress]:
    """A Rich progress bar on stderr showing rows done, total when known, rows per second,
    time so far and the time left (once the total is known)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    with progress:
        yield progress
