"""Ledgers for tests: an empty one for commands which only read one (they refuse a missing
ledger), and a relying party registered directly in one."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection

from xinyong.ledger.database import open_database
from xinyong.ledger.schema import relying_parties

__all__ = ["add_relying_party", "new_ledger"]


def new_ledger(url: str) -> str:
    """Create an empty ledger at ``url`` (as ``xinyong ledger init`` does); return ``url``."""
    open_database(url).dispose()
    return url


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
