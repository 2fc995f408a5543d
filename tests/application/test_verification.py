"""Verifying the three logs at once finds what each log's own verification finds: an edited
record, an edited operational row, an edited check, each named, the others still verified."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from tests.support.ledgers import add_relying_party, append_people
from xinyong.application.verification import verify_all
from xinyong.ledger.database import one_snapshot, open_database
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import relying_parties


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_database(ledger_url)
    append_people(engine, 3)
    with engine.begin() as conn:
        add_relying_party(conn, "bank", ["no-loans"])
        log_rows(conn, relying_parties, relying_parties.c.name == "bank")
    try:
        yield engine
    finally:
        engine.dispose()


def _verified(engine: Engine) -> list[str]:
    with engine.connect() as conn, one_snapshot(conn).begin():
        verified = verify_all(conn)
    assert verified.ledger.size == 6
    assert verified.operations.size >= 1
    return [str(problem) for problem in verified.problems]


def test_an_untouched_ledger_verifies(engine: Engine) -> None:
    assert _verified(engine) == []


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        ("UPDATE records SET attrs = '{\"x\": 1}' WHERE record_id = 'R1'", "R1"),
        ("UPDATE relying_parties SET purpose = 'other' WHERE name = 'bank'", "bank"),
    ],
    ids=["record", "operational row"],
)
def test_an_edit_behind_the_logs_back_is_named(engine: Engine, edit: str, names: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(edit))
    problems = _verified(engine)
    assert problems
    assert names in problems[0]
