"""Ingesting a file: in this process, or with a second one preparing the batches.

The rules are those of :mod:`xinyong.ingest.records`, whichever runs; the outcome (the rows
stored, the subjects registered, the counts and the rejects) is the same, and a test holds the
two to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from xinyong.domain.catalog import Catalog
from xinyong.ingest.apart import apart_by_default, ingest_apart
from xinyong.ingest.records import IngestReport, ingest_in_one_process

__all__ = ["ingest_records"]


def ingest_records(
    engine: Engine,
    path: Path,
    catalog: Catalog,
    *,
    source: str | None = None,
    batch_size: int = 50_000,
    today: date | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    apart: bool | None = None,
) -> IngestReport:
    """Ingest ``path`` (CSV, Parquet or JSON Lines) into the ledger behind ``engine``.

    ``apart``: read, validate, decide and hash in a second process while this one writes
    (:mod:`xinyong.ingest.apart`); None chooses (:func:`apart_by_default`).
    """
    if apart is None:
        apart = apart_by_default(engine, path)
    ingest = ingest_apart if apart else ingest_in_one_process
    return ingest(
        engine,
        path,
        catalog,
        source=source,
        batch_size=batch_size,
        today=today,
        progress=progress,
    )
