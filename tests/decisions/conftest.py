"""Fixtures of the decision tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The ledger's database: a SQLite file, or the test PostgreSQL database."""
    return str(request.param)
