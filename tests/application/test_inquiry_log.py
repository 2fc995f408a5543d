"""The inquiry log on PostgreSQL: a batch of checks and their adverse notices are one commit."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from typing import cast

import orjson
import pytest
import sqlalchemy as sa

from tests.support.postgres import reset_pg
from xinyong.application.inquiry_log import InquiryLog
from xinyong.decisions.checks import Decision
from xinyong.decisions.decision_ids import new_decision_id
from xinyong.decisions.notices import RIGHTS
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import inquiries, notices

pytestmark = pytest.mark.postgres


def _decision(subject: str, applies: bool) -> Decision:
    return Decision(
        decision_id=new_decision_id(),
        relying_party="airline",
        subject_id=subject,
        measure="restrict-flights",
        applies=applies,
        scheme_id="s",
        version="v",
        as_of=date(2026, 12, 2),
        known_at=7,
        made_at="2026-12-02T00:00:00Z",
    )


def test_checks_and_their_notices_are_written_together(pg_server_url: str) -> None:
    reset_pg(pg_server_url)
    engine = open_database(pg_server_url)
    log = InquiryLog(engine)
    quiet, adverse = _decision("a", False), _decision("b", True)
    notice = {"decision_id": adverse.decision_id, "measure": "restrict-flights", "records": []}

    async def both() -> list[BaseException | None]:
        try:
            return await log.record_all([(quiet, None), (adverse, notice)])
        finally:
            await log.aclose()

    try:
        assert asyncio.run(both()) == [None, None]
        with engine.connect() as conn:
            logged = conn.execute(sa.select(inquiries.c.decision_id, inquiries.c.applies)).all()
            written = conn.execute(sa.select(notices)).all()
        assert sorted(map(tuple, logged)) == sorted(
            [(quiet.decision_id, False), (adverse.decision_id, True)]
        )
        assert [(n.subject_id, n.kind) for n in written] == [("b", "adverse-check")]
        assert orjson.loads(written[0].body) == {**notice, "rights": list(RIGHTS)}
    finally:
        log.close()
        engine.dispose()


def test_a_failed_batch_leaves_no_notice_behind(pg_server_url: str) -> None:
    """A statement that fails writes nothing, notices included; retried check by check, the
    good checks are logged with their notices once, and only the bad one fails."""
    reset_pg(pg_server_url)
    engine = open_database(pg_server_url)
    log = InquiryLog(engine)
    adverse = _decision("b", True)
    broken = dataclasses.replace(_decision("c", False), relying_party=cast(str, None))
    notice = {"decision_id": adverse.decision_id, "records": []}

    async def both() -> list[BaseException | None]:
        try:
            return await log.record_all([(adverse, notice), (broken, None)])
        finally:
            await log.aclose()

    try:
        outcomes = asyncio.run(both())
        assert outcomes[0] is None
        assert isinstance(outcomes[1], Exception)
        with engine.connect() as conn:
            logged = conn.execute(sa.select(inquiries.c.decision_id)).scalars().all()
            written = conn.execute(sa.select(notices.c.subject_id)).scalars().all()
        assert (logged, written) == ([adverse.decision_id], ["b"])
    finally:
        log.close()
        engine.dispose()
