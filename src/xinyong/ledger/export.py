"""Exporting effective records to Parquet for batch engines (DuckDB, Spark).

The export streams the effective-records query in chunks into a Parquet file written through a
temporary name, so a reader never sees half a file. ``occurred_at`` is a date column and ``attrs``
canonical JSON text, the same shape ``xinyong ingest`` and ``xinyong score --records`` read.

With ``partitions=N`` the export is a directory of N Parquet files, ``part=K/records.parquet``,
each holding the records of the subjects whose :func:`subject_partition` is K: every subject's
records are in one file, so a batch engine reads the files in parallel and each task sees whole
subjects. The directory is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection

from xinyong.domain.catalog import Catalog
from xinyong.ledger.effective import effective_records

__all__ = ["EXPORT_MARKER", "EXPORT_SCHEMA", "export_records", "subject_partition"]

EXPORT_MARKER = "_xinyong_export.json"
"""Written into a partitioned export's directory: an export replaces only a directory that holds
it (or an empty one). Readers of the dataset skip files starting with ``_``."""

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


def subject_partition(subject_id: str, partitions: int) -> int:
    """The partition of a subject: CRC-32 of its UTF-8 id modulo ``partitions``.

    CRC-32 is stable across processes and machines (Python's ``hash`` of a string is not) and
    available in most engines, so another tool can find a subject's file the same way.
    """
    return zlib.crc32(subject_id.encode("utf-8")) % partitions


def _batches(
    conn: Connection, as_of: date, known_at: int | None, catalog: Catalog | None, chunk: int
) -> Iterator[pa.Table]:
    query = effective_records(as_of, known_at, catalog)
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": chunk})
    for rows in result.partitions(chunk):
        columns = list(zip(*rows, strict=True))
        yield pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, EXPORT_SCHEMA, strict=True)],
            schema=EXPORT_SCHEMA,
        )


def export_records(
    conn: Connection,
    out: Path,
    as_of: date,
    known_at: int | None = None,
    catalog: Catalog | None = None,
    chunk: int = 100_000,
    progress: Callable[[int], None] | None = None,
    partitions: int | None = None,
) -> int:
    """Write the effective records to ``out``; return the number of rows.

    ``out`` is one Parquet file, or with ``partitions`` a directory of that many files split
    by :func:`subject_partition` (replacing a previous export in that directory).
    """
    batches = _batches(conn, as_of, known_at, catalog, chunk)
    out.parent.mkdir(parents=True, exist_ok=True)
    if partitions is not None:
        return _write_partitioned(batches, out, partitions, progress)
    return _write_file(batches, out, progress)


def _write_file(
    batches: Iterator[pa.Table], out: Path, progress: Callable[[int], None] | None
) -> int:
    fd, temp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    written = 0
    try:
        with pq.ParquetWriter(temp, EXPORT_SCHEMA) as writer:
            for table in batches:
                writer.write_table(table)
                written += table.num_rows
                if progress is not None:
                    progress(written)
            if written == 0:
                writer.write_table(EXPORT_SCHEMA.empty_table())
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return written


def _write_partitioned(
    batches: Iterator[pa.Table],
    out: Path,
    partitions: int,
    progress: Callable[[int], None] | None,
) -> int:
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: a partitioned export goes to a directory, and this is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_MARKER).is_file():
        raise ValueError(
            f"{out}: the directory exists and is not an earlier export (no {EXPORT_MARKER}); "
            "name a new or empty directory: nothing that the export did not write is replaced"
        )
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    writers: list[pq.ParquetWriter] = []
    written = 0
    try:
        for k in range(partitions):
            (temp / f"part={k:05d}").mkdir()
            writers.append(
                pq.ParquetWriter(temp / f"part={k:05d}" / "records.parquet", EXPORT_SCHEMA)
            )
        for table in batches:
            ids = table.column("subject_id").to_pylist()
            part = np.fromiter(
                (subject_partition(s, partitions) for s in ids), dtype=np.int64, count=len(ids)
            )
            order = np.argsort(part, kind="stable")
            bounds = np.searchsorted(part[order], np.arange(partitions + 1))
            ordered = table.take(pa.array(order))
            for k in range(partitions):
                if bounds[k + 1] > bounds[k]:
                    writers[k].write_table(ordered.slice(bounds[k], bounds[k + 1] - bounds[k]))
            written += table.num_rows
            if progress is not None:
                progress(written)
        for writer in writers:
            writer.close()
        (temp / EXPORT_MARKER).write_text(
            orjson.dumps({"partitions": partitions, "rows": written}).decode() + "\n",
            encoding="utf-8",
        )
        _replace_directory(temp, out)
    except BaseException:
        for writer in writers:
            writer.close()
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return written


def _replace_directory(new: Path, out: Path) -> None:
    """Put ``new`` at ``out``; an old export there (or an empty directory) is moved aside
    first, then deleted."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old)
