"""The queues of due process (objections, requests for review, appeals) read one way: by
deadline, oldest first, filtered by status, subject and any other column given."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, select

__all__ = ["by_deadline"]


def by_deadline(table: Table, **equal: str | None) -> Select[Any]:
    """The rows of ``table`` whose columns equal the values given (None: any), oldest deadline
    first."""
    query = select(table).order_by(table.c.deadline, table.c.filed_at)
    for name, value in equal.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    return query
