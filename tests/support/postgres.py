"""The test PostgreSQL database, emptied between tests."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["reset_pg"]


def reset_pg(url: str) -> None:
    """Drop every table of the test database (an empty ledger on the next open)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
