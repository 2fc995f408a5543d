"""A check's adverse notice as its entry in the inquiry log holds it: what a replay, the
subject's credit report and an adverse receipt's grounds are made from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.support.service_fixtures import logged_decision
from xinyong.decisions.checks import log_decisions
from xinyong.decisions.notices import sent_notices
from xinyong.ledger.database import inquiry_log_file, open_database


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_database(ledger_url)
    yield engine
    engine.dispose()


def test_the_notices_a_subjects_checks_sent_are_the_logged_ones(engine: Engine) -> None:
    adverse, other = logged_decision("ext:s", True), logged_decision("ext:s")
    notice = {"records": [{"record": "court/r1"}], "lists": ["blacklist"]}
    with engine.begin() as conn:
        log_decisions(conn, [(adverse, notice), (other, None)])
    with engine.connect() as conn:
        sent = sent_notices(conn, "ext:s")
        assert list(sent) == [adverse.decision_id]
        assert sent[adverse.decision_id]["records"] == [{"record": "court/r1"}]
        # the time of the notice is the check's, so that it is a function of the check
        table = "pending_notices" if inquiry_log_file(engine) else "notices"  # beside the log
        created = conn.exec_driver_sql(f"SELECT created_at FROM {table}").scalar_one()
        assert created == adverse.made_at
        assert sent_notices(conn, "ext:s", other.decision_id) == {}
        assert sent_notices(conn, "ext:other") == {}
    # a notice that is not the one logged is not taken for it
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {table} SET body = replace(body, 'court/r1', 'court/r9')")
    with engine.connect() as conn:
        assert sent_notices(conn, "ext:s") == {}
