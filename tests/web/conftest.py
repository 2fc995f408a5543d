"""Fixtures of the browser tests: the seeded portal served on SQLite (and on PostgreSQL), and
Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import Live, launch, serve_portal

if TYPE_CHECKING:
    from playwright.sync_api import Browser


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
