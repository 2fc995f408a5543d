"""An operator's review, called as both transports call it: the decision is final, the record's
status follows it in the subject's file, and the subject gets a notice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.context_fixtures import close_context, seeded_context
from tests.support.service_fixtures import PERSON
from xinyong.application.context import Context
from xinyong.application.filing import file_subject_objection, file_subject_repair
from xinyong.application.review import review_objection, review_repair
from xinyong.application.subject_file import subject_file
from xinyong.domain.refusals import AlreadyDecided, NotFound


@pytest.fixture
def ctx(ledger_url: str) -> Iterator[Context]:
    seeded = seeded_context(ledger_url)
    yield seeded
    close_context(seeded)


def _file(ctx: Context) -> dict[str, object]:
    with ctx.engine.connect() as conn:
        return subject_file(conn, ctx, PERSON)


def _status(ctx: Context, record: str) -> str:
    records = _file(ctx)["records"]
    assert isinstance(records, list)
    return str(next(r["status"] for r in records if r["record"] == record))


def test_an_upheld_objection_revokes_the_record_once(ctx: Context) -> None:
    filed = file_subject_objection(ctx, PERSON, "bank", "d1", "the loan was never mine", None)
    assert _status(ctx, "bank/d1") == "disputed"
    decided, _ = review_objection(
        ctx, filed.objection_id, uphold=True, reason="unverifiable", operator="operator:k"
    )
    assert (decided.status, decided.decided_by) == ("upheld", "operator:k")
    assert _status(ctx, "bank/d1") == "revoked"
    notices = _file(ctx)["notices"]
    assert isinstance(notices, list)
    assert "objection-upheld" in {n["kind"] for n in notices}
    with pytest.raises(AlreadyDecided, match="is already upheld"):
        review_objection(ctx, filed.objection_id, uphold=False, reason="no", operator="o")
    with pytest.raises(NotFound, match="no objection nope"):
        review_objection(ctx, "nope", uphold=False, reason="no", operator="o")


def test_an_approved_repair_ends_the_record_today(ctx: Context) -> None:
    asked = file_subject_repair(ctx, PERSON, "bank", "d1", "repaid in full")
    decided, _ = review_repair(
        ctx, asked.repair_id, approve=True, reason="repayment verified", operator="operator:k"
    )
    assert decided.status == "approved"
    assert _status(ctx, "bank/d1") == "repaired"
    with pytest.raises(AlreadyDecided, match="is already approved"):
        review_repair(ctx, asked.repair_id, approve=False, reason="no", operator="o")
    with pytest.raises(NotFound, match="no repair request nope"):
        review_repair(ctx, "nope", approve=False, reason="no", operator="o")
