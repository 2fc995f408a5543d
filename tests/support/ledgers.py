"""Ledgers for tests: an empty one for commands which only read one (they refuse a missing
ledger), people appended as one batch, and a relying party registered directly in one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import orjson
from sqlalchemy import Connection, Engine

from xinyong.ledger.append import Batch, TreeHead, append_batch
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.schema import relying_parties

__all__ = ["add_relying_party", "append_people", "new_ledger"]


def new_ledger(url: str) -> str:
    """Create an empty ledger at ``url`` (as ``xinyong ledger init`` does); return ``url``."""
    open_database(url).dispose()
    return url


def append_people(engine: Engine, people: int, first: int = 0, attrs: str = "{}") -> TreeHead:
    """Append people ``P{first:06d}`` on, each with one ``court.defaulter`` record ``R{n}`` of
    ``attrs``, as one batch: the subjects' entries, then the records'. The new head."""
    batch = Batch()
    for n in range(first, first + people):
        subject = f"P{n:06d}"
        batch.subjects.append((subject, "person", f"Name {n}", "{}"))
        batch.records.append(
            (
                "court",
                f"R{n}",
                subject,
                "person",
                "court.defaulter",
                date(2024, 1, 1),
                None,
                attrs,
                None,
            )
        )
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        return append_batch(conn, batch, f"people {first} to {first + people - 1}")


def add_relying_party(conn: Connection, name: str, measures: Sequence[str]) -> None:
    """Register relying party ``name`` for ``measures``, without a webhook."""
    conn.execute(
        relying_parties.insert().values(
            name=name,
            measures=orjson.dumps(list(measures)).decode(),
            purpose="tests",
            webhook_url=None,
            created_at="2025-01-01T00:00:00Z",
        )
    )
