"""Shared fixtures: a fresh ledger database on every engine the project supports.

``ledger_url`` is parametrised over SQLite (a file in a temporary directory) and PostgreSQL (a
database created for this test session on the server at 127.0.0.1:5432 and dropped afterwards).
PostgreSQL is a real server, not a mock: when it cannot be reached the tests fail, unless
``XINYONG_SKIP_POSTGRES=1`` says to skip them on a machine without one.

``portal`` is the seeded portal in process on each of those ledgers, and ``anyio_backend`` runs
the async tests on asyncio.

``spark`` is a test worker's one Spark engine (``local[2]``; a JVM takes about 5 s to start),
shared by every test marked ``spark`` that the worker runs.

The suite runs on as many pytest-xdist workers as the machine has cores (``-n auto``): each
worker has its own session, so its own PostgreSQL database and, when it runs a ``spark`` test,
its own JVM. Nothing else is shared between tests (the benchmark smoke runs' databases are named
by their benchmark and size, each run by one test).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.ledgers import new_ledger
from tests.support.postgres import new_pg_database, reset_pg
from tests.support.web_fixtures import Portal, seed_portal
from xinyong.engines.spark_settings import SparkSettings

if TYPE_CHECKING:
    from xinyong.engines.spark import SparkEngine

# pytest-xdist's workers inherit COLUMNS and LINES from their launcher; Rich would fix every
# console's size to them when the CLI is imported, and the tests that widen it (CliRunner's
# env) would then wrap at 80 columns on a worker and not in a single process.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

# A PostgreSQL ledger's signing key is created under $XDG_CONFIG_HOME (xinyong.ledger.signed_head):
# the tests' keys go to a directory of their own, not to the user's configuration.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="xinyong-test-config-")
# Compiled scheme SQL (xinyong.engines.compiled_sql) is kept in a directory of the tests' own.
os.environ["XINYONG_CACHE_DIR"] = tempfile.mkdtemp(prefix="xinyong-test-cache-")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A database created for this test session on the PostgreSQL server, dropped at the end."""
    if os.environ.get("XINYONG_SKIP_POSTGRES") == "1":
        pytest.skip("XINYONG_SKIP_POSTGRES=1")
    with new_pg_database() as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty ledger on each supported engine."""
    if request.param == "sqlite":
        return new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    url: str = request.getfixturevalue("pg_server_url")
    reset_pg(url)
    return new_ledger(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The ledger's database, for the tests that draw a ledger (tests/support/drawn_ledger.py):
    a SQLite file, or the test PostgreSQL database."""
    return str(request.param)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def portal(ledger_url: str, tmp_path: Path) -> Iterator[Portal]:
    """The seeded portal in process, on SQLite and on PostgreSQL."""
    seeded = seed_portal(ledger_url, tmp_path)
    yield seeded
    seeded.service.engine.dispose()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkEngine]:
    """This worker's Spark engine on ``local[2]``, stopped at the end of the run."""
    from xinyong.engines.spark import spark_engine

    engine = spark_engine(SparkSettings(master="local[2]"))
    try:
        yield engine
    finally:
        engine.session.stop()
