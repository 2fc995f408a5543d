"""Exporting effective records to Parquet for batch engines (DuckDB, Spark).

The export streams the effective-records query in chunks into a Parquet file written through a
temporary name, so a reader never sees half a file. ``occurred_at`` is a date column and ``attrs``
canonical JSON text, the same shape ``xinyong ingest`` and ``xinyong score --records`` read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection

from xinyong.domain.catalog import Catalog
from xinyong.ledger.effective import effective_records

__all__ = ["EXPORT_SCHEMA", "export_records"]

EXPORT_SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("record_id", pa.string()),
        ("subject_id", pa.string()),
        ("subject_kind", pa.string()),
        ("code", pa.string()),
        ("occurred_at", pa.date32()),
        ("source", pa.string()),
        ("case_id", pa.string()),
        ("attrs", pa.string()),
        ("evidence", pa.string()),
        ("recorded_at", pa.string()),
    ]
)


def export_records(
    conn: Connection,
    out: Path,
    as_of: date,
    known_at: int | None = None,
    catalog: Catalog | None = None,
    chunk: int = 100_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the effective records to ``out`` (Parquet); return the number of rows."""
    query = effective_records(as_of, known_at, catalog)
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": chunk})
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    written = 0
    try:
        with pq.ParquetWriter(temp, EXPORT_SCHEMA) as writer:
            for rows in result.partitions(chunk):
                columns = list(zip(*rows, strict=True))
                writer.write_table(
                    pa.Table.from_arrays(
                        [
                            pa.array(col, type=f.type)
                            for col, f in zip(columns, EXPORT_SCHEMA, strict=True)
                        ],
                        schema=EXPORT_SCHEMA,
                    )
                )
                written += len(rows)
                if progress is not None:
                    progress(written)
            if written == 0:
                writer.write_table(EXPORT_SCHEMA.empty_table())
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return written
