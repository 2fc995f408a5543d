"""``xinyong standings refresh`` publishes a new list entry after the same grace period as the
background worker's daily refresh: the setting ``grace_days``, unless ``--grace-days`` says
otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.ledgers import new_ledger
from tests.support.overridden import override_args
from tests.support.service_fixtures import SCHEME
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ledger.append import Batch, append_batch
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.schema import listings

pytestmark = pytest.mark.slow

PERSON = synthetic_resident_id(9, date(1980, 1, 1), 3)


def _listed_person(url: str) -> None:
    """A person with three recent court records: grade D under the example scheme, listed."""
    batch = Batch()
    batch.subjects.append((PERSON, "person", "Name", "{}"))
    day = date.today() - timedelta(days=10)
    for n in range(3):
        batch.records.append(
            ("court", f"C{n}", PERSON, "person", "court.defaulter", day, None, "{}", None)
        )
    engine = open_database(url)
    try:
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_batch(conn, batch, "a listed person")
    finally:
        engine.dispose()


def _public_after(url: str) -> int:
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            [(listed_on, public_from)] = conn.execute(
                select(listings.c.listed_on, listings.c.public_from)
            ).all()
    finally:
        engine.dispose()
    return int((public_from - listed_on).days)


@pytest.mark.parametrize(
    ("settings", "flag", "days"),
    [
        ("", [], 30),
        ("grace_days = 7\n", [], 7),
        ("grace_days = 7\n", ["--set", "grace_days=4"], 4),
        ("grace_days = 7\n", ["--grace-days", "3", "--set", "grace_days=4"], 3),
    ],
)
def test_refresh_publishes_after_the_settings_grace(
    tmp_path: Path, settings: str, flag: list[str], days: int
) -> None:
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    env = {**os.environ, "XINYONG_DATABASE_URL": url}
    run = [sys.executable, "-m", "xinyong"]
    subprocess.run(
        [*run, "scheme", "add", str(SCHEME), *override_args(SCHEME)],
        env=env,
        check=True,
        capture_output=True,
    )
    _listed_person(url)
    file = tmp_path / "settings.toml"
    file.write_text(settings)
    done = subprocess.run(
        [*run, "standings", "refresh", "--settings", str(file), *flag],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _public_after(url) == days


def test_refresh_refuses_bad_settings(tmp_path: Path) -> None:
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    file = tmp_path / "settings.toml"
    file.write_text("grace_days = -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "xinyong", "standings", "refresh", "--settings", str(file)],
        env={**os.environ, "XINYONG_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "grace_days" in done.stderr
    assert "Traceback" not in done.stderr
