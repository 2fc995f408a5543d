"""Human review, appeals and the furnisher's part in a dispute, through the API on SQLite and
PostgreSQL: who may ask, who decides, the deadlines, and what reaches the relying party."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.service_fixtures import (
    DEFAULT,
    PERSON,
    WEBHOOK_SECRET,
    Service,
    Webhook,
)
from xinyong.application.keys import Role, create_key
from xinyong.due_process.outbox import deliver_pending
from xinyong.worker import post_json

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client() as http:
        submitted = await http.post(
            "/v1/records", headers=service.headers("source"), json={"records": [DEFAULT]}
        )
        assert submitted.json()["accepted"] == 1, submitted.text
        yield http


async def _as(
    client: httpx.AsyncClient, service: Service, role: str, method: str, path: str, **body: Any
) -> httpx.Response:
    return await client.request(method, path, headers=service.headers(role), json=body or None)


async def _check(client: httpx.AsyncClient, service: Service) -> dict[str, Any]:
    answer = await client.get(
        "/v1/checks",
        params={"subject": PERSON, "measure": "restrict-flights"},
        headers=service.headers("relying"),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _notice(file: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(n for n in file["notices"] if n["kind"] == kind)


async def test_a_person_reviews_a_check_and_the_relying_party_is_corrected(
    service: Service, client: httpx.AsyncClient, webhook: Webhook
) -> None:
    first = await _check(client, service)
    assert first["applies"] is True
    asked = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/reviews",
        kind="check",
        target=first["decision_id"],
        reason="A program decided; I want a person to look at the loan record.",
    )
    assert asked.status_code == 201, asked.text
    review = asked.json()
    assert (review["status"], review["deadline"]) == ("open", "2025-07-15")  # 15 days
    assert review["target"] == first["decision_id"]
    again = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/reviews",
        kind="check",
        target=first["decision_id"],
        reason="again",
    )
    assert again.status_code == 422
    assert "still open" in again.text
    others = await _as(
        client,
        service,
        "other-subject",
        "POST",
        "/v1/me/reviews",
        kind="check",
        target=first["decision_id"],
        reason="not mine",
    )
    assert others.status_code == 422
    assert "no check" in others.text
    queue = (await _as(client, service, "operator", "GET", "/v1/reviews")).json()
    assert [r["review_id"] for r in queue] == [review["review_id"]]
    path = f"/v1/reviews/{review['review_id']}/decision"
    voidless = await _as(client, service, "operator", "POST", path, change=True, reason="wrong")
    assert voidless.status_code == 422
    assert "names the records" in voidless.text
    foreign = await _as(
        client, service, "operator", "POST", path, change=True, reason="x", void=["bank/zz"]
    )
    assert foreign.status_code == 422
    assert "no record bank/zz" in foreign.text
    decided = await _as(
        client,
        service,
        "operator",
        "POST",
        path,
        change=True,
        reason="The contract was signed with a forged identity card.",
        void=["bank/d1"],
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "changed"
    assert decided.json()["voided"] == ["bank/d1"]
    assert decided.json()["corrections_queued"] == 1
    twice = await _as(client, service, "operator", "POST", path, change=False, reason="again")
    assert twice.status_code == 409
    assert (await _check(client, service))["applies"] is False
    deliver_pending(service.engine, post_json)
    correction = next(m for m in webhook.verified(WEBHOOK_SECRET) if m["type"] == "correction")
    assert (correction["decision_id"], correction["applies"]) == (first["decision_id"], False)
    mine = (await _as(client, service, "subject", "GET", "/v1/me")).json()
    assert mine["reviews"][0]["status"] == "changed"
    notice = _notice(mine, "review-changed")
    assert notice["reason"] == "The contract was signed with a forged identity card."
    assert notice["voided"] == ["bank/d1"]
    assert notice["standing_now"][0]["lists"] == []
    assert any("/me#reviews" in right for right in notice["rights"])  # the notices link to it
    report = (await client.get("/v1/transparency")).json()
    assert report["reviews"] == {"filed": 1, "open": 0, "confirmed": 0, "changed": 1, "overdue": 0}


async def test_a_listing_review_is_confirmed_with_a_reason(
    service: Service, client: httpx.AsyncClient
) -> None:
    await _check(client, service)  # the service lists the subject as it answers
    absent = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/reviews",
        kind="listing",
        target="rongcheng/redlist",
        reason="never on it",
    )
    assert absent.status_code == 422
    asked = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/reviews",
        kind="listing",
        target="rongcheng/blacklist",
        reason="One loan should not blacklist me.",
    )
    assert asked.status_code == 201, asked.text
    path = f"/v1/reviews/{asked.json()['review_id']}/decision"
    with_void = await _as(
        client, service, "operator", "POST", path, change=False, reason="x", void=["bank/d1"]
    )
    assert with_void.status_code == 422
    decided = await _as(
        client,
        service,
        "operator",
        "POST",
        path,
        change=False,
        reason="The default is verified by the bank's contract; the scheme lists it.",
    )
    assert decided.json()["status"] == "confirmed", decided.text
    mine = (await _as(client, service, "subject", "GET", "/v1/me")).json()
    assert _notice(mine, "review-confirmed")["standing_now"][0]["lists"] == ["blacklist"]
    standing = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/reviews",
        kind="standing",
        target="rongcheng",
        reason="my grade",
    )
    assert standing.status_code == 201
    unknown = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/reviews",
        kind="standing",
        target="nowhere",
        reason="my grade",
    )
    assert unknown.status_code == 422


async def _rejected_objection(client: httpx.AsyncClient, service: Service) -> str:
    filed = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/objections",
        source="bank",
        record_id="d1",
        reason="The loan was repaid in full.",
    )
    assert filed.status_code == 201, filed.text
    objection_id = str(filed.json()["objection_id"])
    rejected = await _as(
        client,
        service,
        "operator",
        "POST",
        f"/v1/objections/{objection_id}/decision",
        accept=False,
        reason="The bank's statement shows no repayment.",
    )
    assert rejected.json()["status"] == "rejected", rejected.text
    return objection_id


async def test_an_appeal_goes_to_another_operator_once(
    service: Service, client: httpx.AsyncClient
) -> None:
    await _check(client, service)
    objection_id = await _rejected_objection(client, service)
    appealed = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/appeals",
        kind="objection",
        id=objection_id,
        reason="I attach the bank's own receipt of repayment.",
    )
    assert appealed.status_code == 201, appealed.text
    appeal = appealed.json()
    assert appeal["deadline"] == "2025-07-15"
    twice = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/appeals",
        kind="objection",
        id=objection_id,
        reason="again",
    )
    assert twice.status_code == 422
    assert "once only" in twice.text
    path = f"/v1/appeals/{appeal['appeal_id']}/decision"
    same = await _as(client, service, "operator", "POST", path, accept=True, reason="fine")
    assert same.status_code == 422
    assert "another operator decides" in same.text
    granted = await _as(
        client,
        service,
        "second-operator",
        "POST",
        path,
        accept=True,
        reason="The receipt shows the loan repaid before the default was reported.",
    )
    assert granted.status_code == 200, granted.text
    assert (granted.json()["status"], granted.json()["decided_by"]) == (
        "granted",
        "operator:Li Na",
    )
    assert granted.json()["corrections_queued"] == 1
    assert (await _check(client, service))["applies"] is False
    mine = (await _as(client, service, "subject", "GET", "/v1/me")).json()
    assert [r["status"] for r in mine["records"]] == ["revoked"]
    assert _notice(mine, "appeal-granted")["first_decided_by"] == appeal["first_decided_by"]
    report = (await client.get("/v1/transparency")).json()
    assert (report["appeals"]["filed"], report["appeals"]["granted"]) == (1, 1)


async def test_an_appeal_has_a_deadline_and_only_a_rejection_is_appealed(
    service: Service, client: httpx.AsyncClient
) -> None:
    objection_id = await _rejected_objection(client, service)
    service.clock.advance(16)
    late = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/appeals",
        kind="objection",
        id=objection_id,
        reason="late",
    )
    assert late.status_code == 422
    assert "could be appealed until" in late.text
    others = await _as(
        client,
        service,
        "other-subject",
        "POST",
        "/v1/me/appeals",
        kind="objection",
        id=objection_id,
        reason="not mine",
    )
    assert others.status_code == 422
    unknown = await _as(
        client, service, "operator", "POST", "/v1/appeals/nope/decision", accept=True, reason="x"
    )
    assert unknown.status_code == 404


async def test_the_source_is_told_answers_and_the_deadline_extends_once(
    service: Service, client: httpx.AsyncClient, webhook: Webhook
) -> None:
    registered = await _as(
        client, service, "operator", "PUT", "/v1/sources/bank", webhook_url=webhook.url
    )
    assert registered.status_code == 200, registered.text
    secret = registered.json()["webhook_secret"]
    filed = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/objections",
        source="bank",
        record_id="d1",
        reason="Never my loan.",
        evidence="police report 17",
    )
    objection = filed.json()
    assert objection["deadline"] == "2025-07-30"
    assert deliver_pending(service.engine, post_json) == (1, 0)
    [told] = webhook.verified(secret)  # signed with the source's own secret
    assert (told["type"], told["objection_id"], told["record_id"]) == (
        "dispute",
        objection["objection_id"],
        "d1",
    )
    assert told["evidence"] == "police report 17"
    path = f"/v1/me/objections/{objection['objection_id']}/information"
    added = await _as(
        client, service, "subject", "POST", path, information="The signature is not mine."
    )
    assert added.status_code == 200, added.text
    assert added.json()["deadline"] == "2025-08-14"  # once, 15 days later
    again = await _as(client, service, "subject", "POST", path, information="more")
    assert again.status_code == 422
    assert "extends once" in again.text
    assert deliver_pending(service.engine, post_json) == (1, 0)
    assert webhook.verified(secret)[1]["type"] == "dispute-information"
    answer = f"/v1/disputes/{objection['objection_id']}/answer"
    stranger = await client.post(
        answer,
        headers=service.headers("relying"),
        json={"verdict": "accurate", "statement": "x"},
    )
    assert stranger.status_code == 403
    confirmed = await _as(
        client,
        service,
        "source",
        "POST",
        answer,
        verdict="accurate",
        statement="The contract bears the subject's signature.",
        evidence="contract scan 4411",
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "open"  # the operator still decides
    assert confirmed.json()["furnisher"]["evidence"] == "contract scan 4411"
    twice = await _as(
        client, service, "source", "POST", answer, verdict="inaccurate", statement="oops"
    )
    assert twice.status_code == 409
    mine = (await _as(client, service, "subject", "GET", "/v1/me")).json()
    assert _notice(mine, "dispute-answered")["verdict"] == "accurate"
    queue = (await _as(client, service, "operator", "GET", "/v1/objections")).json()
    assert queue[0]["furnisher"]["verdict"] == "accurate"
    report = (await client.get("/v1/transparency")).json()
    assert report["furnisher_answers"] == {"accurate": 1, "inaccurate": 0, "none": 0}


async def test_a_source_that_finds_its_record_inaccurate_ends_the_dispute(
    service: Service, client: httpx.AsyncClient
) -> None:
    assert (await _check(client, service))["applies"] is True
    filed = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/objections",
        source="bank",
        record_id="d1",
        reason="Never my loan.",
    )
    answer = f"/v1/disputes/{filed.json()['objection_id']}/answer"
    withdrawn = await _as(
        client,
        service,
        "source",
        "POST",
        answer,
        verdict="inaccurate",
        statement="Our records matched the wrong customer.",
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["status"], withdrawn.json()["decided_by"]) == ("upheld", "source:bank")
    assert withdrawn.json()["corrections_queued"] == 1
    assert (await _check(client, service))["applies"] is False


async def test_an_unanswered_dispute_ends_with_the_record_not_counting(
    service: Service, client: httpx.AsyncClient
) -> None:
    assert (await _check(client, service))["applies"] is True
    await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/objections",
        source="bank",
        record_id="d1",
        reason="Never my loan.",
    )
    service.clock.advance(31)
    swept = await _as(client, service, "operator", "POST", "/v1/sweep")
    assert len(swept.json()["lapsed"]) == 1
    assert (await _check(client, service))["applies"] is False


async def test_webhook_secrets_are_given_and_rotated(
    service: Service, client: httpx.AsyncClient
) -> None:
    made = await _as(
        client,
        service,
        "operator",
        "POST",
        "/v1/relying-parties",
        name="hotel",
        measures=["restrict-flights"],
        purpose="room bookings",
        webhook_url="http://127.0.0.1:9/h",
    )
    assert made.json()["webhook_secret"].startswith("whsec_")
    rotated = await _as(
        client, service, "operator", "POST", "/v1/relying-parties/hotel/webhook-secret"
    )
    assert rotated.json()["webhook_secret"] not in (made.json()["webhook_secret"], "")
    missing = await _as(
        client, service, "operator", "POST", "/v1/relying-parties/nope/webhook-secret"
    )
    assert missing.status_code == 404


async def _appealed(client: httpx.AsyncClient, service: Service) -> str:
    objection_id = await _rejected_objection(client, service)
    appealed = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/appeals",
        kind="objection",
        id=objection_id,
        reason="I attach the bank's own receipt of repayment.",
    )
    assert appealed.status_code == 201, appealed.text
    return f"/v1/appeals/{appealed.json()['appeal_id']}/decision"


def _operator_key(service: Service, name: str) -> dict[str, str]:
    """An operator key made as on the server (the API makes none)."""
    with service.engine.begin() as conn:
        token = create_key(conn, Role.OPERATOR, name).token
    return {"Authorization": f"Bearer {token}"}


async def test_an_operator_cannot_decide_the_appeal_of_their_own_decision_with_another_key(
    service: Service, client: httpx.AsyncClient
) -> None:
    minted = await client.post(
        "/v1/keys", headers=service.headers("operator"), json={"role": "operator", "name": "X"}
    )
    assert minted.status_code == 422  # operator keys are made on the server only
    path = await _appealed(client, service)
    decision = {"accept": True, "reason": "fine"}
    unnamed = await client.post(path, headers=_operator_key(service, ""), json=decision)
    assert unnamed.status_code == 422
    assert "names its operator" in unnamed.text
    # the first decision was made with an unnamed key: recorded by its key id, and that key
    # may not decide even after it is given a name elsewhere; a second key of the second
    # operator's name, spelled otherwise, is the second operator
    first = (await _as(client, service, "operator", "GET", "/v1/appeals")).json()[0]
    assert first["first_decided_by"].startswith("operator:")
    with service.engine.begin() as conn:  # as if Li Na had made the first decision
        conn.execute(
            sa.text("UPDATE appeals SET first_decided_by = 'operator:Li Na'"),
        )
    for spelled in ("li  na", "LI NA", "Ｌｉ Ｎａ"):
        same = await client.post(path, headers=_operator_key(service, spelled), json=decision)
        assert same.status_code == 422, spelled
        assert "another operator decides" in same.text
    other = await client.post(path, headers=_operator_key(service, "Zhang Wei"), json=decision)
    assert other.status_code == 200, other.text


async def test_a_decision_recorded_by_key_id_is_that_keys(
    service: Service, client: httpx.AsyncClient
) -> None:
    """Before operators were named, decisions recorded the key's id."""
    path = await _appealed(client, service)
    with service.engine.connect() as conn:
        key_id = conn.execute(
            sa.text("SELECT key_id FROM api_keys WHERE name = 'Li Na'")
        ).scalar_one()
    with service.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE appeals SET first_decided_by = 'operator:{key_id}'"))
    refused = await _as(
        client, service, "second-operator", "POST", path, accept=True, reason="mine"
    )
    assert refused.status_code == 422
    assert "another operator decides" in refused.text


async def test_filings_at_once_open_one_review(service: Service, client: httpx.AsyncClient) -> None:
    body = {"kind": "standing", "target": "rongcheng", "reason": "my grade"}
    answers = await asyncio.gather(
        *(
            client.post("/v1/me/reviews", headers=service.headers("subject"), json=body)
            for _ in range(6)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 422, 422, 422, 422, 422]


async def test_a_source_answers_again_after_the_subject_adds_information(
    service: Service, client: httpx.AsyncClient
) -> None:
    filed = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/objections",
        source="bank",
        record_id="d1",
        reason="Never my loan.",
    )
    objection_id = filed.json()["objection_id"]
    answer = f"/v1/disputes/{objection_id}/answer"
    first = await _as(
        client, service, "source", "POST", answer, verdict="accurate", statement="signed"
    )
    assert first.status_code == 200
    again = await _as(client, service, "source", "POST", answer, verdict="accurate", statement="x")
    assert again.status_code == 409
    added = await _as(
        client,
        service,
        "subject",
        "POST",
        f"/v1/me/objections/{objection_id}/information",
        information="The signature is a copy from another contract.",
    )
    assert added.status_code == 200
    second = await _as(
        client,
        service,
        "source",
        "POST",
        answer,
        verdict="inaccurate",
        statement="The signature was copied; the record is withdrawn.",
    )
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "upheld"


async def test_a_review_does_not_void_a_void_record_and_sources_are_named_as_ingest_names_them(
    service: Service, client: httpx.AsyncClient
) -> None:
    await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/reviews",
        kind="standing",
        target="rongcheng",
        reason="my grade",
    )
    filed = await _as(
        client,
        service,
        "subject",
        "POST",
        "/v1/me/objections",
        source="bank",
        record_id="d1",
        reason="Never my loan.",
    )
    await _as(
        client,
        service,
        "operator",
        "POST",
        f"/v1/objections/{filed.json()['objection_id']}/decision",
        accept=True,
        reason="unverifiable",
    )
    [review] = (await _as(client, service, "operator", "GET", "/v1/reviews")).json()
    void = await _as(
        client,
        service,
        "operator",
        "POST",
        f"/v1/reviews/{review['review_id']}/decision",
        change=True,
        reason="wrong",
        void=["bank/d1"],
    )
    assert void.status_code == 422
    assert "void" in void.text
    for bad in ("b" * 65, "bank name", "%ED%A0%80"):
        refused = await _as(client, service, "operator", "PUT", f"/v1/sources/{bad}")
        assert refused.status_code == 422, bad


async def test_the_api_registers_parties_as_the_console_and_the_cli_do(
    service: Service, client: httpx.AsyncClient
) -> None:
    """One use case (xinyong.application.relying.register): a name taken is 409, a webhook URL
    that is neither https nor http to a loopback address is 422 naming the field."""
    fields = {"measures": ["restrict-flights"], "purpose": "rail tickets"}
    taken = await _as(
        client, service, "operator", "POST", "/v1/relying-parties", name="airline", **fields
    )
    assert taken.status_code == 409
    assert "registered already" in taken.json()["detail"]
    for url in ("http://10.0.0.5/h", "https://user:pw@hooks.example/h", "ftp://hooks.example/h"):
        refused = await _as(
            client,
            service,
            "operator",
            "POST",
            "/v1/relying-parties",
            name="rail",
            webhook_url=url,
            **fields,
        )
        assert refused.status_code == 422, url
        assert refused.json()["detail"].startswith("webhook URL"), refused.text
