"""A refused request gets its answer by the kind of refusal, the same from every use case: the
API answers 404, 409 or 422; the portal shows the form's page again with the reason (409 or 422).

Each case is refused three ways: by the use case called directly (which raises the kind), through
the API and through the portal's form; none of them writes anything.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.pages import Page
from tests.support.service_fixtures import PERSON
from tests.support.web_fixtures import Portal, form_token, seed_portal, sign_in
from xinyong.application.context import Context
from xinyong.application.filing import file_subject_objection, file_subject_repair
from xinyong.application.review import review_objection, review_repair
from xinyong.domain.refusals import AlreadyDecided, NotAllowed, NotFound, Refused
from xinyong.due_process.objections import list_objections
from xinyong.due_process.repairs import list_repairs

pytestmark = pytest.mark.anyio

API_STATUS = {NotFound: 404, AlreadyDecided: 409, NotAllowed: 422}
"""What the API answers each kind (docs/service.md)."""
FORM_STATUS = {NotFound: 409, AlreadyDecided: 409, NotAllowed: 422}
"""What the portal answers a form refused with each kind (docs/web.md): a decision on a request
that is not there, or no longer open, comes from a queue that is out of date."""


@dataclass(frozen=True)
class Refusal:
    """One refused request, as a use case call, an API request and a form."""

    kind: type[Refused]
    message: str
    use_case: Callable[[Context], object]
    role: str
    api: tuple[str, dict[str, Any]]
    """Path and JSON body of the API request."""
    form: tuple[str, dict[str, str], str]
    """Path and fields of the form, and the page it is on (shown again when refused)."""


@dataclass(frozen=True)
class Decided:
    """Objections and repair requests made before each case: one of each decided, one open."""

    objection: str
    repair: str
    open_objection: str
    open_repair: str


def _decided(ctx: Context) -> Decided:
    operator = "operator:test"
    objection = file_subject_objection(ctx, PERSON, "bank", "d1", "not mine", None)
    review_objection(
        ctx, objection.objection_id, uphold=False, reason="the bank confirmed", operator=operator
    )
    repair = file_subject_repair(ctx, PERSON, "bank", "d1", "paid in full")
    review_repair(ctx, repair.repair_id, approve=False, reason="no receipt", operator=operator)
    return Decided(
        objection.objection_id,
        repair.repair_id,
        file_subject_objection(ctx, PERSON, "bank", "d1", "not mine at all", None).objection_id,
        file_subject_repair(ctx, PERSON, "bank", "d1", "paid, receipts attached").repair_id,
    )


def _filed(kind: type[Refused], message: str, what: str, record: str, reason: str) -> Refusal:
    """A subject's objection or repair request (``what``) refused."""
    source, _, record_id = record.partition("/")

    def use_case(ctx: Context) -> object:
        if what == "objections":
            return file_subject_objection(ctx, PERSON, source, record_id, reason, None)
        return file_subject_repair(ctx, PERSON, source, record_id, reason)

    return Refusal(
        kind,
        message,
        use_case,
        "subject",
        (f"/v1/me/{what}", {"source": source, "record_id": record_id, "reason": reason}),
        (f"/me/{what}", {"record": record, "reason": reason}, "/me"),
    )


def _decision(kind: type[Refused], message: str, what: str, item: str, reason: str) -> Refusal:
    """An operator's decision on an objection or a repair request refused."""

    def use_case(ctx: Context) -> object:
        review = review_objection if what == "objections" else review_repair
        accept = {"uphold" if what == "objections" else "approve": True}
        return review(ctx, item, reason=reason, operator="operator:test", **accept)

    yes = "uphold" if what == "objections" else "approve"
    return Refusal(
        kind,
        message,
        use_case,
        "operator",
        (f"/v1/{what}/{item}/decision", {"accept": True, "reason": reason}),
        (
            f"/console/{what}/{item}/decision",
            {"decision": yes, "reason": reason},
            f"/console/{what}",
        ),
    )


def _cases(made: Decided) -> dict[str, Refusal]:
    return {
        "an objection without a reason": _filed(
            NotAllowed, "an objection needs a reason", "objections", "bank/d1", " "
        ),
        "an objection to another's record": _filed(
            NotAllowed, "no record bank/j1 in your file", "objections", "bank/j1", "not mine"
        ),
        "an objection while one is open": _filed(
            NotAllowed,
            f"objection {made.open_objection} on this record is still open",
            "objections",
            "bank/d1",
            "still not mine",
        ),
        "repair of a positive record": _filed(
            NotAllowed, "only records of dishonest conduct are repaired", "repairs", "bank/v1", "-"
        ),
        "repair of another's record": _filed(
            NotAllowed, "no record bank/j1 in your file", "repairs", "bank/j1", "paid"
        ),
        "a decision on an unknown objection": _decision(
            NotFound, "no objection nope", "objections", "nope", "verified"
        ),
        "a decision on a decided objection": _decision(
            AlreadyDecided,
            f"objection {made.objection} is already rejected",
            "objections",
            made.objection,
            "second thoughts",
        ),
        "an objection decided without a reason": _decision(
            NotAllowed, "a decision needs a written reason", "objections", made.open_objection, " "
        ),
        "a decision on an unknown repair request": _decision(
            NotFound, "no repair request nope", "repairs", "nope", "verified"
        ),
        "a decision on a decided repair request": _decision(
            AlreadyDecided,
            f"repair request {made.repair} is already rejected",
            "repairs",
            made.repair,
            "second thoughts",
        ),
        "a repair decided without a reason": _decision(
            NotAllowed, "a decision needs a written reason", "repairs", made.open_repair, " "
        ),
    }


CASES = list(_cases(Decided("", "", "", "")))
"""The cases' names (their ids are known once each test has made its objections and requests)."""


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    seeded = seed_portal(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    yield seeded
    seeded.service.engine.dispose()


@asynccontextmanager
async def _signed_in(portal: Portal, role: str) -> AsyncIterator[httpx.AsyncClient]:
    async with portal.service.client() as client:
        response = await sign_in(client, portal.tokens[role])
        assert response.status_code == 303, response.text
        yield client


def _state(ctx: Context) -> list[object]:
    with ctx.engine.connect() as conn:
        return [*list_objections(conn), *list_repairs(conn)]


def test_every_kind_of_refusal_is_tried() -> None:
    kinds = {case.kind for case in _cases(Decided("", "", "", "")).values()}
    assert kinds == set(API_STATUS) == set(FORM_STATUS)


@pytest.mark.parametrize("name", CASES)
async def test_a_refusal_is_answered_by_its_kind(portal: Portal, name: str) -> None:
    ctx: Context = portal.service.app.state.context
    case = _cases(_decided(ctx))[name]
    before = _state(ctx)

    with pytest.raises(case.kind, match=f"^{re.escape(case.message)}$"):
        case.use_case(ctx)

    path, body = case.api
    async with portal.service.client() as client:
        answer = await client.post(path, json=body, headers=portal.service.headers(case.role))
    assert (answer.status_code, answer.json()) == (API_STATUS[case.kind], {"detail": case.message})

    path, fields, shown = case.form
    async with _signed_in(portal, case.role) as client:
        csrf = form_token((await client.get(shown)).text)
        page = await client.post(path, data={**fields, "csrf": csrf})
    assert page.status_code == FORM_STATUS[case.kind]
    shown_again = Page(page.text)
    assert case.message in shown_again.text
    assert f"{shown}.json" in shown_again.links  # the form's page, shown again

    assert _state(ctx) == before  # refused: nothing written
