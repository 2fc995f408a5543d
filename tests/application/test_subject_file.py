"""The subject's file when a scheme cannot score anyone."""

from __future__ import annotations

from datetime import date

from tests.support.peer_rows import interaction, ledger_rating
from xinyong.application.context import Context
from xinyong.application.settings import ServiceSettings
from xinyong.application.subject_file import subject_file
from xinyong.domain.catalog import load_catalog
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.database import WRITE, open_database
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.scoring.store import add_scheme


def test_a_scheme_whose_seeds_rated_nobody_is_named_and_the_file_still_shown(
    ledger_url: str,
) -> None:
    """The nosedive-gate pilot's seeds rated nobody: it can score no one (a check answers 503),
    and the subject's file (and report) says so instead of failing."""
    engine = open_database(ledger_url)
    catalog = load_catalog()
    rows = [
        interaction("m1a", "pat", "lacie", "m1", "2025-06-01"),
        interaction("m1b", "lacie", "pat", "m1", "2025-06-01"),
        ledger_rating("r1", "pat", "lacie", "m1", "2025-06-02", 2),
    ]
    assert ingest_rows(engine, rows, catalog, source="app", today=date(2025, 6, 30)).rejects == []
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        add_scheme(conn, load_scheme(bundled_pilots()["nosedive-gate"]))
    ctx = Context.create(engine, catalog, ServiceSettings(today=lambda: date(2025, 6, 30)))
    try:
        with engine.connect() as conn:
            file = subject_file(conn, ctx, "lacie")
    finally:
        engine.dispose()
    assert [r["record"] for r in file["records"]] == ["app/m1b", "app/r1"]
    assert file["standings"] == []
    [named] = file["not_scored"]
    assert named["scheme"] == "nosedive-gate"
    assert "none of the peer seeds" in named["reason"]
