"""Ledgers for tests that run commands which only read one (they refuse a missing ledger)."""

from __future__ import annotations

from xinyong.ledger.database import open_database

__all__ = ["new_ledger"]


def new_ledger(url: str) -> str:
    """Create an empty ledger at ``url`` (as ``xinyong ledger init`` does); return ``url``."""
    open_database(url).dispose()
    return url
