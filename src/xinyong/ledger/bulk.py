"""Bulk inserts through each driver's fastest path: ``executemany`` on SQLite, ``COPY`` on
PostgreSQL (six times faster there than multi-row INSERTs, and it streams instead of building
one statement per batch)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Table, insert

__all__ = ["insert_rows"]


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Insert ``rows`` (values in the order of ``columns``) into ``table`` in the current
    transaction."""
    names = ", ".join(columns)
    dialect = conn.dialect.name
    if dialect == "sqlite":
        batch = list(rows)
        if batch:  # an empty parameter list would run the statement once, without values
            marks = ", ".join("?" for _ in columns)
            conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", batch)
    elif dialect == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        mappings = [dict(zip(columns, row, strict=True)) for row in rows]
        if mappings:
            conn.execute(insert(table), mappings)
