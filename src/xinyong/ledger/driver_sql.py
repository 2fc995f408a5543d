"""Hot point reads compiled once to the driver's SQL and run on the raw DB-API cursor.

A check runs three index lookups (ledger size, subject kind, the subject's records) that SQLite
answers in 5-20 microseconds each. Through SQLAlchemy Core each costs 100-300 microseconds more:
statement construction, cache-key generation, expansion of ``IN`` lists, result processing. For
these few statements that overhead is most of a check, so they are written once as SQLAlchemy
statements (one definition, shared with the rest of the code and its tests), compiled once per
dialect with their constant ``IN`` lists expanded, and executed on the connection's DB-API cursor
inside the caller's transaction.

Only plain values go through: strings, integers and dates (SQLite stores dates as ISO text, so they
are passed as such there). Rows come back as tuples in the driver's types; callers convert.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.expression import Executable

__all__ = ["DriverStatement", "as_date"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None
    """Parameter names in placeholder order (positional paramstyles), else None (named)."""
    constants: dict[str, Any]
    iso_dates: bool


class DriverStatement:
    """A statement with named bind parameters, compiled once per dialect.

    ``placeholders`` gives a value of the right type for each parameter that is supplied at
    execution (they are needed to expand the statement once; their values are not kept).
    """

    def __init__(self, statement: Executable, placeholders: Mapping[str, object]) -> None:
        self._statement = statement
        self._placeholders = dict(placeholders)
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    @property
    def placeholders(self) -> dict[str, object]:
        """A value of the right type for each parameter."""
        return dict(self._placeholders)

    def _for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is not None:
            return found
        with self._lock:
            compiled = self._statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            expanded = compiled.construct_expanded_state(self._placeholders)
            constants = {
                name: value
                for name, value in expanded.parameters.items()
                if name not in self._placeholders
            }
            iso_dates = dialect.name == "sqlite"
            order = None if expanded.positiontup is None else tuple(expanded.positiontup)
            found = _Compiled(
                expanded.statement, order, _iso(constants) if iso_dates else constants, iso_dates
            )
            self._compiled[key] = found
        return found

    def driver_call(
        self, dialect: Dialect, params: Mapping[str, object]
    ) -> tuple[str, Mapping[str, object] | tuple[object, ...]]:
        """The SQL and the values to give the dialect's driver for ``params`` (for a caller that
        runs it on a driver connection of its own, such as an asynchronous one)."""
        compiled = self._for(dialect)
        values = {**compiled.constants, **(_iso(params) if compiled.iso_dates else params)}
        if compiled.order is None:
            return compiled.sql, values
        return compiled.sql, tuple(values[name] for name in compiled.order)

    def rows(self, conn: Connection, params: Mapping[str, object]) -> list[tuple[Any, ...]]:
        """Run with ``params`` (every placeholder name) in ``conn``'s transaction."""
        sql, values = self.driver_call(conn.dialect, params)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def run_many(self, conn: Connection, params: Sequence[Mapping[str, object]]) -> None:
        """Run once per parameter set (``executemany``) in ``conn``'s transaction."""
        compiled = self._for(conn.dialect)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            values = [
                {**compiled.constants, **(_iso(p) if compiled.iso_dates else p)} for p in params
            ]
            if compiled.order is None:
                cursor.executemany(compiled.sql, values)
            else:
                order = compiled.order
                cursor.executemany(compiled.sql, [tuple(v[name] for name in order) for v in values])
        finally:
            cursor.close()


def _iso(params: Mapping[str, object]) -> dict[str, object]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}


def as_date(value: object) -> date:
    """A date column's value as a date (SQLite returns ISO text, PostgreSQL a date)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
