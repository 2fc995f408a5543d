"""Appending to the ledger: positions, hashes and a checkpoint, in one transaction per batch.

A batch is the unit of atomicity. Its entries get the next positions (subjects, then records,
then events), each entry's leaf hash extends the Merkle frontier read from the last checkpoint,
and the new tree head is written as a checkpoint in the same transaction. A process killed at any
moment therefore leaves whole batches only, and the last checkpoint always covers the whole log.

The caller opens the transaction with :data:`~xinyong.ledger.database.WRITE_LOCK` so that two
writers never extend the same head. Rows are written with the driver's bulk path
(``executemany`` on SQLite, ``COPY`` on PostgreSQL): the tamper evidence is computed in Python
and costs one SHA-256 per entry plus one per interior node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat

from sqlalchemy import Connection, Table, insert, select

from xinyong.ledger.bulk import insert_rows
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.entries import CONTENT_COLUMNS, entry_hashes
from xinyong.ledger.merkle import EMPTY_ROOT, Frontier
from xinyong.ledger.schema import checkpoints, events, records, subjects

__all__ = [
    "Batch",
    "HashedBatch",
    "TreeHead",
    "append_batch",
    "append_hashed",
    "hash_batch",
    "read_checkpoint",
    "read_frontier",
    "read_head",
    "read_size",
    "utc_now_text",
]

SubjectRow = tuple[str, str, str | None, str]
"""subject_id, kind, display_name, identifiers (canonical JSON)."""
RecordRow = tuple[str, str, str, str, str, date, str | None, str, str | None]
"""source, record_id, subject_id, subject_kind, code, occurred_at, case_id, attrs, evidence."""
EventRow = tuple[str, str, str, date, str, str, str]
"""event_type, source, record_id, effective_on, actor, reason, attrs (canonical JSON)."""


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The size and Merkle root of the log at a checkpoint."""

    size: int
    root: bytes
    committed_at: str = ""

    @property
    def token(self) -> str:
        """``SIZE:ROOT`` as accepted by ``xinyong ledger verify --against``."""
        return f"{self.size}:{self.root.hex()}"


@dataclass(slots=True)
class Batch:
    """Entries to append together."""

    subjects: list[SubjectRow] = field(default_factory=list)
    records: list[RecordRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.subjects) + len(self.records) + len(self.events)


_DATE_COLUMN = {"records": 5, "events": 3}
"""Index of the date column in the content tuple of each entry table."""


def utc_now_text() -> str:
    """The current UTC time as stored in ``recorded_at`` (ISO 8601, microseconds, ``Z``)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def read_head(conn: Connection, heads: Table = checkpoints) -> TreeHead:
    """The newest checkpoint (size 0 and the empty root for an empty ledger); ``heads`` the
    table of another tree's checkpoints (the operations log's)."""
    row = conn.execute(
        select(heads.c.size, heads.c.root, heads.c.committed_at)
        .order_by(heads.c.size.desc())
        .limit(1)
    ).first()
    if row is None:
        return TreeHead(0, EMPTY_ROOT)
    return TreeHead(int(row.size), bytes(row.root), str(row.committed_at))


_SIZE = DriverStatement(select(checkpoints.c.size).order_by(checkpoints.c.size.desc()).limit(1), {})


def read_size(conn: Connection) -> int:
    """The ledger's size at its newest checkpoint (the per-check read of :func:`read_head`)."""
    found = _SIZE.rows(conn, {})
    return 0 if not found else int(found[0][0])


def read_checkpoint(conn: Connection, size: int, heads: Table = checkpoints) -> TreeHead | None:
    """The checkpoint at exactly ``size`` entries, if a batch ended there (of the tree whose
    checkpoints are in ``heads``)."""
    if size == 0:
        return TreeHead(0, EMPTY_ROOT)
    row = conn.execute(
        select(heads.c.size, heads.c.root, heads.c.committed_at).where(heads.c.size == size)
    ).first()
    return None if row is None else TreeHead(int(row.size), bytes(row.root), str(row.committed_at))


def read_frontier(conn: Connection, heads: Table = checkpoints) -> Frontier:
    """The frontier stored with the newest checkpoint (of the tree whose checkpoints are in
    ``heads``)."""
    row = conn.execute(
        select(heads.c.size, heads.c.frontier).order_by(heads.c.size.desc()).limit(1)
    ).first()
    return Frontier() if row is None else Frontier.from_text(int(row.size), str(row.frontier))


def append_batch(conn: Connection, batch: Batch, note: str) -> TreeHead:
    """Append ``batch`` after the current head and checkpoint it. Call inside a write lock."""
    frontier = read_frontier(conn)
    if not len(batch):
        return TreeHead(frontier.size, frontier.root())
    recorded_at = utc_now_text()
    position = frontier.size
    sqlite = conn.dialect.name == "sqlite"
    for table, rows in (
        (subjects, batch.subjects),
        (records, batch.records),
        (events, batch.events),
    ):
        if not rows:
            continue
        day = _DATE_COLUMN.get(table.name) if sqlite else None
        _bulk_insert(conn, table, _stored(table.name, position, rows, recorded_at, day, frontier))
        if frontier.size != position + len(rows):  # the checkpoint must cover the rows written
            raise RuntimeError(f"{table.name}: {frontier.size - position} of {len(rows)} written")
        position += len(rows)
    head = TreeHead(frontier.size, frontier.root(), recorded_at)
    _checkpoint(conn, head, frontier.to_text(), note)
    return head


def _checkpoint(conn: Connection, head: TreeHead, frontier: str, note: str) -> None:
    conn.execute(
        insert(checkpoints).values(
            size=head.size,
            root=head.root,
            frontier=frontier,
            committed_at=head.committed_at,
            note=note,
        )
    )


@dataclass(frozen=True, slots=True)
class HashedBatch:
    """A batch hashed for the positions after ``start`` entries, before anything is written:
    its rows as stored and the checkpoint they end at. Another process can make it (an
    ingest's preparing process, :mod:`xinyong.ingest.apart`); :func:`append_hashed` writes it
    only where the ledger is still ``start`` entries long."""

    start: int
    tables: tuple[tuple[str, list[tuple[object, ...]]], ...]
    """(table name, rows as stored), in the order of their positions."""
    head: TreeHead
    frontier: str
    """The frontier at ``head``, as stored (:meth:`Frontier.to_text`)."""


def hash_batch(batch: Batch, frontier: Frontier, recorded_at: str, *, sqlite: bool) -> HashedBatch:
    """``batch`` hashed to follow the tree whose frontier is ``frontier`` (which it extends),
    recorded at ``recorded_at``; ``sqlite``: dates as the SQLite driver stores them (ISO text).
    The rows are what :func:`append_batch` writes for the same batch at the same moment."""
    start = position = frontier.size
    tables: list[tuple[str, list[tuple[object, ...]]]] = []
    for table, rows in (
        (subjects, batch.subjects),
        (records, batch.records),
        (events, batch.events),
    ):
        if rows:
            day = _DATE_COLUMN.get(table.name) if sqlite else None
            tables.append(
                (
                    str(table.name),
                    list(_stored(table.name, position, rows, recorded_at, day, frontier)),
                )
            )
            position += len(rows)
    head = TreeHead(frontier.size, frontier.root(), recorded_at)
    return HashedBatch(start, tuple(tables), head, frontier.to_text())


_TABLES = {table.name: table for table in (subjects, records, events)}


def append_hashed(conn: Connection, hashed: HashedBatch, note: str) -> TreeHead:
    """Write ``hashed`` and its checkpoint. Call inside a write lock, where the ledger is
    ``hashed.start`` entries long (:func:`read_size`): the caller checks, and otherwise has
    the batch decided and hashed again."""
    for name, rows in hashed.tables:
        _bulk_insert(conn, _TABLES[name], rows)
    _checkpoint(conn, hashed.head, hashed.frontier, note)
    return hashed.head


_CHUNK = 5_000
"""Rows hashed at a time while the rows before them are written: PostgreSQL's server works
through one chunk of a ``COPY`` while the next is hashed and added to the Merkle frontier."""


def _stored(
    table: str,
    first: int,
    rows: Sequence[tuple[object, ...]],
    recorded_at: str,
    day: int | None,
    frontier: Frontier,
) -> Iterator[tuple[object, ...]]:
    """The rows as stored (position, content, ``recorded_at``, leaf hash), hashed a chunk at a
    time; each chunk's hashes extend ``frontier`` (whose size is ``first``) before its rows are
    handed over. ``day``: the index of a date to hand over as ISO text (the SQLite driver stores
    dates as text)."""
    texts: dict[object, str] = {}
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        at = first + start
        hashes = entry_hashes(table, at, chunk, recorded_at)
        frontier.extend(hashes)
        columns: list[Iterable[object]] = list(zip(*chunk, strict=True))  # tuples made in C
        if day is not None:
            dates = columns[day]
            for value in set(dates).difference(texts):
                texts[value] = value.isoformat()  # type: ignore[attr-defined]
            columns[day] = map(texts.__getitem__, dates)
        yield from zip(
            range(at, at + len(chunk)),
            *columns,
            repeat(recorded_at, len(chunk)),
            hashes,
            strict=True,
        )


def _columns(table: Table) -> tuple[str, ...]:
    return ("position", *CONTENT_COLUMNS[table.name], "leaf_hash")


def _bulk_insert(conn: Connection, table: Table, rows: Iterable[tuple[object, ...]]) -> None:
    insert_rows(conn, table, _columns(table), rows)
