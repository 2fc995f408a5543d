"""Fixtures of the portal's tests: the seeded portal in process (on SQLite, or on both
databases), the same served on a port, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import Live, launch, serve_portal
from tests.support.web_fixtures import Portal, seed_portal

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def local_portal(tmp_path: Path) -> Iterator[Portal]:
    """The portal over SQLite only (for tests about pages, not about the database)."""
    seeded = seed_portal(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    yield seeded
    seeded.service.engine.dispose()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The portal on SQLite, for what does not depend on the database."""
    yield from serve_portal(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)


@pytest.fixture
def live_any(ledger_url: str, tmp_path: Path) -> Iterator[Live]:
    """The portal on SQLite and on PostgreSQL, for the flows that write."""
    yield from serve_portal(ledger_url, tmp_path)


@pytest.fixture
def browser() -> Iterator[Browser]:
    yield from launch()
