"""Lifecycle events: what happens to a record after it was furnished.

A record is never updated or deleted. It is revoked (an upheld objection), repaired (credit
repair approved), corrected (replaced by a corrected record) or expired by a later event that
references it; :mod:`xinyong.ledger.effective` reads the events back. The objection and repair
workflows build on :func:`append_event`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import orjson
from sqlalchemy import Connection, select

from xinyong.domain.records import AttrValue
from xinyong.ledger.append import Batch, TreeHead, append_batch
from xinyong.ledger.effective import EventType
from xinyong.ledger.schema import records

__all__ = ["UnknownRecord", "append_event"]


class UnknownRecord(LookupError):
    """An event names a record that is not in the ledger."""


def append_event(
    conn: Connection,
    event_type: EventType,
    source: str,
    record_id: str,
    *,
    effective_on: date,
    actor: str,
    reason: str,
    attrs: Mapping[str, AttrValue] | None = None,
) -> TreeHead:
    """Append one event about record ``source/record_id``. Call inside a write lock."""
    if not reason.strip():
        raise ValueError("an event needs a reason: it is shown to the subject")
    found = conn.execute(
        select(records.c.position).where(
            records.c.source == source, records.c.record_id == record_id
        )
    ).first()
    if found is None:
        raise UnknownRecord(f"no record {source}/{record_id} in the ledger")
    text = orjson.dumps(dict(attrs or {}), option=orjson.OPT_SORT_KEYS).decode()
    row = (EventType(event_type).value, source, record_id, effective_on, actor, reason, text)
    return append_batch(conn, Batch(events=[row]), f"{event_type} {source}/{record_id}")
