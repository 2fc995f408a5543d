"""Scoring a whole population with either engine, from a records file or from the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Connection

from xinyong.domain.catalog import Catalog
from xinyong.engines import duckdb as duckdb_engine
from xinyong.engines import postgres as postgres_engine
from xinyong.ledger.append import TreeHead, read_checkpoint, read_head
from xinyong.schemes.model import Scheme
from xinyong.scoring.ledger_source import effective_table, subjects_table
from xinyong.scoring.records_file import input_records, read_records_file
from xinyong.scoring.reference import score_records
from xinyong.scoring.standing import Standing

__all__ = [
    "STANDINGS_SCHEMA",
    "Engine",
    "score_arrow",
    "score_file",
    "score_ledger",
    "standings_from_table",
    "standings_table",
]

STANDINGS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.string()),
        ("score", pa.float64()),
        ("grade", pa.string()),
        ("lists", pa.string()),
        ("measures", pa.string()),
    ]
)


class Engine(StrEnum):
    """``duckdb``: the compiled expression on DuckDB; ``python``: the reference evaluator;
    ``postgres``: the compiled expression inside the PostgreSQL ledger (ledger mode only)."""

    DUCKDB = "duckdb"
    PYTHON = "python"
    POSTGRES = "postgres"


def standings_table(rows: Sequence[Standing]) -> pa.Table:
    """Standings as the output table (sorted by subject id)."""
    ordered = sorted(rows, key=lambda s: s.subject_id)
    return pa.Table.from_pylist([s.row() for s in ordered], schema=STANDINGS_SCHEMA)


def standings_from_table(table: pa.Table) -> list[Standing]:
    """The inverse of :func:`standings_table`."""
    return [
        Standing(
            r["subject_id"],
            float(r["score"]),
            r["grade"],
            tuple(x for x in r["lists"].split(";") if x),
            tuple(x for x in r["measures"].split(";") if x),
        )
        for r in table.to_pylist()
    ]


def score_arrow(
    scheme: Scheme,
    records: pa.Table,
    as_of: date,
    engine: Engine,
    subjects: pa.Table | None = None,
    origin: Path | None = None,
) -> pa.Table:
    """Score an Arrow table of records (and registered subjects in ledger mode)."""
    if engine is Engine.POSTGRES:
        raise ValueError("the postgres engine scores the ledger in place: use --db URL")
    if engine is Engine.DUCKDB:
        result = duckdb_engine.score_table(scheme, records, as_of, subjects)
        return result.cast(STANDINGS_SCHEMA).sort_by("subject_id")
    inputs = list(input_records(origin or Path("<records>"), records))
    chosen = None
    if subjects is not None:
        chosen = [
            s["subject_id"] for s in subjects.to_pylist() if s["kind"] in scheme.subject_kinds
        ]
    return standings_table(score_records(scheme, inputs, as_of, chosen))


def score_file(scheme: Scheme, path: Path, as_of: date, engine: Engine) -> pa.Table:
    """Score a records file (CSV, Parquet, JSON Lines)."""
    return score_arrow(scheme, read_records_file(path), as_of, engine, origin=path)


def score_ledger(
    conn: Connection,
    scheme: Scheme,
    as_of: date,
    engine: Engine,
    catalog: Catalog | None,
    known_at: int | None = None,
) -> tuple[pa.Table, TreeHead]:
    """Score every registered subject over the effective records; return the head used."""
    head = read_head(conn)
    if known_at is not None and known_at != head.size:
        past = read_checkpoint(conn, known_at)
        if past is None:
            raise ValueError(f"--known-at {known_at}: no checkpoint has that size")
        head = past
    if engine is Engine.POSTGRES:
        url = conn.engine.url.render_as_string(hide_password=False)
        table = postgres_engine.score_in_database(url, scheme, as_of, head.size, catalog)
        return table.cast(STANDINGS_SCHEMA).sort_by("subject_id"), head
    records = effective_table(conn, as_of, head.size, catalog)
    subjects = subjects_table(conn, head.size)
    return score_arrow(scheme, records, as_of, engine, subjects), head
