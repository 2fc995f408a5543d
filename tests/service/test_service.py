"""The decision service over HTTP (in process): roles, checks, due process end to end."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.overridden import OFFICIAL, overridden_body
from tests.support.service_fixtures import (
    DEFAULT,
    OTHER,
    PERSON,
    SCHEME,
    START,
    WEBHOOK_SECRET,
    Service,
    Webhook,
    make_service,
)
from xinyong.due_process.outbox import deliver_pending
from xinyong.service.auth import ROLE_KEY
from xinyong.worker import post_json

pytestmark = pytest.mark.anyio
ROLES = ["public", "operator", "source", "relying", "subject"]


def _fill(path: str) -> str:
    return (
        path.replace("{decision_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{objection_id}", "x")
        .replace("{repair_id}", "x")
        .replace("{key_id}", "nokey")
        .replace("{scheme_id}", "rongcheng")
        .replace("{list_id}", "blacklist")
    )


async def test_every_route_admits_exactly_its_roles(service: Service) -> None:
    paths = service.app.openapi()["paths"]
    operations = [
        (path, method.upper(), spec)
        for path, item in paths.items()
        for method, spec in item.items()
    ]
    assert len(operations) > 15
    async with service.client() as client:
        for path, method, spec in operations:
            declared = spec.get(ROLE_KEY)
            assert declared, f"{method} {path} declares no roles"
            for role in ROLES:
                params = {"subject": PERSON, "measure": "restrict-flights"}
                response = await client.request(
                    method, _fill(path), params=params, headers=service.headers(role), json={}
                )
                if role in declared:
                    assert response.status_code not in (401, 403), (role, method, path)
                else:
                    assert response.status_code in (401, 403), (role, method, path)


async def test_bad_and_revoked_keys(service: Service) -> None:
    async with service.client() as client:
        bad = await client.get("/v1/me", headers={"Authorization": "Bearer xy_nope_nope"})
        assert bad.status_code == 401
        made = await client.post(
            "/v1/keys", headers=service.headers("operator"), json={"role": "subject", "name": OTHER}
        )
        token = made.json()["token"]
        ok = await client.get("/v1/me", headers={"X-API-Key": token})
        assert ok.status_code == 200
        await client.delete(
            f"/v1/keys/{made.json()['key_id']}", headers=service.headers("operator")
        )
        gone = await client.get("/v1/me", headers={"X-API-Key": token})
        assert gone.status_code == 401


async def test_operator_keys_are_revoked_on_the_server_only(service: Service) -> None:
    """One operator cannot lock the others out (an appeal needs another operator), nor end
    their own access by mistake: both refused with a reason, and both keys still work."""
    async with service.client() as client:
        for who in ("second-operator", "operator"):  # another operator's key, then one's own
            key_id = service.tokens[who].split("_")[1]
            refused = await client.delete(f"/v1/keys/{key_id}", headers=service.headers("operator"))
            assert refused.status_code == 422, refused.text
            assert "on the server" in refused.json()["detail"]
        for who in ("second-operator", "operator"):
            still = await client.get("/v1/schemes", headers=service.headers(who))
            assert still.status_code == 200


async def test_checks_are_purpose_bound_and_reveal_nothing(service: Service) -> None:
    async with service.client() as client:
        h = service.headers("relying")
        other = await client.get(
            "/v1/checks", params={"subject": PERSON, "measure": "nope"}, headers=h
        )
        assert other.status_code == 403  # not registered for that measure
        unknown = await client.get(
            "/v1/checks", params={"subject": "ext:nobody", "measure": "restrict-flights"}, headers=h
        )
        assert unknown.status_code == 200
        body = unknown.json()
        assert body["applies"] is False
        assert set(body) == {
            "decision_id",
            "subject",
            "measure",
            "applies",
            "scheme",
            "version",
            "as_of",
            "made_at",
            "overrides",
            "receipt",  # the same statement, signed (tests/service/test_verifiable.py)
        }
        # the example scheme lists by grade: activated only despite that, and every check says so
        assert [(o["finding"], o["official"]) for o in body["overrides"]] == [
            ("bare-score-sanction@measures.restrict-flights.lists", OFFICIAL)
        ]
        # the findings name "score"; the receipt is base64 and hashes
        told = {k: v for k, v in body.items() if k not in ("overrides", "receipt")}
        assert "score" not in str(told)


async def test_rate_limit(ledger_url: str) -> None:
    svc = make_service(ledger_url)
    svc.app.state.context.buckets.rate = 0.001
    svc.app.state.context.buckets.burst = 2
    async with svc.client() as client:
        codes = []
        for _ in range(3):
            r = await client.get(
                "/v1/checks",
                params={"subject": PERSON, "measure": "restrict-flights"},
                headers=svc.headers("relying"),
            )
            codes.append(r.status_code)
        assert codes == [200, 200, 429]
        assert int(r.headers["Retry-After"]) >= 1
    svc.engine.dispose()


async def test_records_are_appended_by_the_submission_process(ledger_url: str) -> None:
    """The service's default: a worker process appends the batch and refreshes its subjects."""
    svc = make_service(ledger_url, ingest_process=True)
    try:
        async with svc.client() as client:
            bad = {**DEFAULT, "record_id": "d2", "code": "no.such_code"}
            submitted = await client.post(
                "/v1/records", headers=svc.headers("source"), json={"records": [DEFAULT, bad]}
            )
            assert submitted.status_code == 200, submitted.text
            report = submitted.json()
            assert report["accepted"] == 1
            assert [r["field"] for r in report["rejected"]] == ["code"]
            assert (await _check(client, svc))["applies"] is True
            mine = (await client.get("/v1/me", headers=svc.headers("subject"))).json()
            assert "listing" in {n["kind"] for n in mine["notices"]}  # refreshed by the worker
    finally:
        svc.app.state.submissions.stop()
        svc.engine.dispose()


async def test_a_dead_submission_worker_is_replaced(tmp_path: Path) -> None:
    """Killing the worker process loses nothing: the next batch starts another and is appended."""
    svc = make_service(f"sqlite:///{tmp_path / 'ledger.db'}", ingest_process=True)
    worker = svc.app.state.submissions
    try:
        async with svc.client() as client:
            h = svc.headers("source")
            first = await client.post("/v1/records", headers=h, json={"records": [DEFAULT]})
            assert first.json()["accepted"] == 1
            pid = worker.pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            again = {**DEFAULT, "record_id": "d2", "subject_id": OTHER}
            second = await client.post("/v1/records", headers=h, json={"records": [again]})
            assert second.status_code == 200, second.text
            assert second.json()["accepted"] == 1
            assert worker.pid() not in (None, pid)
    finally:
        worker.stop()
        svc.engine.dispose()


async def test_adverse_notices_move_from_beside_the_log(service: Service) -> None:
    """An adverse-check notice is written with its check (in the inquiry log's file on SQLite),
    shown to the subject at once, and moved to ``notices`` without being duplicated."""
    from xinyong.decisions.notices import move_pending_notices, notices_for
    from xinyong.ledger.schema import notices, pending_notices

    async with service.client() as client:
        await client.post(
            "/v1/records", headers=service.headers("source"), json={"records": [DEFAULT]}
        )
        assert (await _check(client, service))["applies"] is True

    def adverse(table: Any) -> int:
        with service.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(table.c.kind == "adverse-check")
            return int(conn.execute(query.select_from(table)).scalar_one())

    sqlite = service.engine.dialect.name == "sqlite"
    assert (adverse(pending_notices), adverse(notices)) == ((1, 0) if sqlite else (0, 1))
    with service.engine.connect() as conn:
        shown = [n["kind"] for n in notices_for(conn, PERSON)].count("adverse-check")
    if sqlite:
        assert move_pending_notices(service.engine) == 1
        assert move_pending_notices(service.engine) == 0
    assert shown == 1
    assert (adverse(pending_notices), adverse(notices)) == (0, 1)
    with service.engine.connect() as conn:
        assert [n["kind"] for n in notices_for(conn, PERSON)].count("adverse-check") == 1


async def test_a_malformed_batch_is_refused_whole(service: Service) -> None:
    async with service.client() as client:
        operator = service.headers("operator")
        before = (await client.get("/v1/ledger/head", headers=operator)).json()["size"]
        h = {**service.headers("source"), "content-type": "application/json"}
        broken = await client.post("/v1/records", headers=h, content=b'{"records": [')
        assert broken.status_code == 422
        assert broken.json()["detail"][0]["loc"][0] == "body"
        empty = await client.post("/v1/records", headers=h, json={"records": []})
        assert empty.status_code == 422
        assert empty.json()["detail"][0]["loc"] == ["body", "records"]
        head = (await client.get("/v1/ledger/head", headers=operator)).json()
        assert head["size"] == before  # nothing appended (the scheme's override is the one entry)


async def _check(client: httpx.AsyncClient, service: Service) -> dict[str, Any]:
    response = await client.get(
        "/v1/checks",
        params={"subject": PERSON, "measure": "restrict-flights"},
        headers=service.headers("relying"),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_end_to_end_due_process(service: Service, webhook: Webhook) -> None:
    async with service.client() as client:
        # a source furnishes a record that puts the subject on the black list
        submitted = await client.post(
            "/v1/records",
            headers=service.headers("source"),
            json={"records": [DEFAULT, {"record_id": "bad"}]},
        )
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["accepted"] == 1
        assert submitted.json()["rejected"][0]["field"] == "subject_id"
        # the airline's check says the sanction applies
        first = await _check(client, service)
        assert first["applies"] is True
        # the subject sees the record, the check, the notices
        mine = (await client.get("/v1/me", headers=service.headers("subject"))).json()
        assert [r["status"] for r in mine["records"]] == ["counting"]
        assert mine["checks"][0]["decision_id"] == first["decision_id"]
        kinds = {n["kind"] for n in mine["notices"]}
        assert {"listing", "adverse-check"} <= kinds
        # another subject cannot see or replay it
        other = await client.get(
            f"/v1/decisions/{first['decision_id']}", headers=service.headers("other-subject")
        )
        assert other.status_code == 404
        # the subject objects; the operator upholds
        objection = await client.post(
            "/v1/me/objections",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "d1", "reason": "the loan was never mine"},
        )
        assert objection.status_code == 201, objection.text
        assert objection.json()["deadline"] == "2025-07-30"
        disputed = (await client.get("/v1/me", headers=service.headers("subject"))).json()
        assert disputed["records"][0]["status"] == "disputed"
        queue = (await client.get("/v1/objections", headers=service.headers("operator"))).json()
        assert [o["objection_id"] for o in queue] == [objection.json()["objection_id"]]
        decided = await client.post(
            f"/v1/objections/{objection.json()['objection_id']}/decision",
            headers=service.headers("operator"),
            json={"accept": True, "reason": "the bank could not verify the contract"},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "upheld"
        assert decided.json()["corrections_queued"] == 1
        # the relying party's webhook receives the correction
        delivered, failed = deliver_pending(service.engine, post_json)
        # the bank has no webhook: its notice of the dispute waits, untried (GET /v1/disputes)
        assert (delivered, failed) == (1, 0)
        [signed] = webhook.verified(WEBHOOK_SECRET)  # signed as Standard Webhooks specify
        assert (signed["decision_id"], signed["applies"]) == (first["decision_id"], False)
        # the check now says the sanction does not apply
        assert (await _check(client, service))["applies"] is False
        # the file shows all of it
        final = (await client.get("/v1/me", headers=service.headers("subject"))).json()
        assert final["records"][0]["status"] == "revoked"
        assert final["objections"][0]["status"] == "upheld"
        upheld = next(n for n in final["notices"] if n["kind"] == "objection-upheld")
        # the notice names the rules and scheme version the record counted under, and the rights
        [before] = upheld["counted_under"]
        assert (before["scheme"], before["version"]) == (first["scheme"], first["version"])
        assert [r["counted"] for r in before["rules"]] == [True]
        assert "restrict-flights" in before["measures"]
        [now] = upheld["standing_now"]
        assert now["version"] == first["version"]
        assert "restrict-flights" not in now["measures"]
        assert upheld["rights"]
        assert upheld["reason"] == "the bank could not verify the contract"
        # and the first decision replays exactly as it was made
        replay = await client.get(
            f"/v1/decisions/{first['decision_id']}", headers=service.headers("subject")
        )
        assert replay.status_code == 200
        assert replay.json()["replayed_applies"] is True
        assert replay.json()["reproduced"] is True
        counted = [r for r in replay.json()["explanation"]["records"] if r["counted"]]
        assert counted[0]["record"] == "bank/d1"


async def test_objection_lapses_at_its_deadline(service: Service) -> None:
    async with service.client() as client:
        await client.post(
            "/v1/records", headers=service.headers("source"), json={"records": [DEFAULT]}
        )
        assert (await _check(client, service))["applies"] is True
        await client.post(
            "/v1/me/objections",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "d1", "reason": "not mine"},
        )
        service.clock.advance(31)
        swept = await client.post("/v1/sweep", headers=service.headers("operator"))
        assert len(swept.json()["lapsed"]) == 1
        assert (await _check(client, service))["applies"] is False
        report = (await client.get("/v1/transparency")).json()
        assert report["objections"]["lapsed"] == 1
        # two checks, and the re-decision that found the answer changed (a correction)
        assert report["checks_per_relying_party"] == {"airline": 3}


async def test_a_scheme_may_shorten_the_objection_deadline(service: Service) -> None:
    shorter = SCHEME.read_text(encoding="utf-8").replace(
        "\n[[grades]]", "\nobjection_days = 12\n\n[[grades]]", 1
    )
    assert "objection_days = 12" in shorter
    async with service.client() as client:
        added = await client.post(
            "/v1/schemes",
            headers=service.headers("operator"),
            json=overridden_body(shorter),
        )
        assert added.status_code == 201, added.text
        await client.post(
            "/v1/records", headers=service.headers("source"), json={"records": [DEFAULT]}
        )
        objection = await client.post(
            "/v1/me/objections",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "d1", "reason": "not mine"},
        )
        assert objection.status_code == 201, objection.text
        assert objection.json()["deadline"] == str(START + timedelta(days=12))


async def test_repair_waits_for_the_minimum_display_period(service: Service) -> None:
    async with service.client() as client:
        await client.post(
            "/v1/records",
            headers=service.headers("source"),
            json={"records": [{**DEFAULT, "occurred_at": "2025-05-01"}]},
        )
        early = await client.post(
            "/v1/me/repairs",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "d1", "reason": "paid"},
        )
        assert early.status_code == 422
        assert "may be requested from 2025-07-30" in early.text  # general tier: 3 months
        service.clock.advance(30)
        asked = await client.post(
            "/v1/me/repairs",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "d1", "reason": "paid"},
        )
        assert asked.status_code == 201, asked.text
        approved = await client.post(
            f"/v1/repairs/{asked.json()['repair_id']}/decision",
            headers=service.headers("operator"),
            json={"accept": True, "reason": "repayment verified"},
        )
        assert approved.json()["status"] == "approved"
        assert (await _check(client, service))["applies"] is False


@pytest.mark.parametrize("voided_by", ["upheld objection", "lapsed objection"])
async def test_a_repair_request_closes_itself_when_its_record_is_voided(
    service: Service, voided_by: str
) -> None:
    """Nothing is left to repair once the record is revoked (or suppressed): the open request
    closes, the subject is told why, and no operator can decide it any more."""
    async with service.client() as client:
        await client.post(
            "/v1/records",
            headers=service.headers("source"),
            json={"records": [{**DEFAULT, "occurred_at": "2025-03-01"}]},
        )
        repair = await client.post(
            "/v1/me/repairs",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "d1", "reason": "paid"},
        )
        assert repair.status_code == 201, repair.text
        objection = await client.post(
            "/v1/me/objections",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "d1", "reason": "not mine"},
        )
        assert objection.status_code == 201, objection.text
        if voided_by == "upheld objection":
            decided = await client.post(
                f"/v1/objections/{objection.json()['objection_id']}/decision",
                headers=service.headers("operator"),
                json={"accept": True, "reason": "the bank could not verify the contract"},
            )
            assert decided.status_code == 200, decided.text
        else:
            service.clock.advance(31)
            swept = await client.post("/v1/sweep", headers=service.headers("operator"))
            assert len(swept.json()["lapsed"]) == 1
        mine = (await client.get("/v1/me", headers=service.headers("subject"))).json()
        [closed] = mine["repairs"]
        assert closed["repair_id"] == repair.json()["repair_id"]
        assert closed["status"] == "closed"
        assert closed["decision_reason"].startswith("the record was revoked (")
        notice = next(n for n in mine["notices"] if n["kind"] == "repair-closed")
        assert (notice["repair_id"], notice["record"]) == (closed["repair_id"], "bank/d1")
        late = await client.post(
            f"/v1/repairs/{closed['repair_id']}/decision",
            headers=service.headers("operator"),
            json={"accept": True, "reason": "repayment verified"},
        )
        assert late.status_code == 409, late.text
        queue = await client.get("/v1/repairs", headers=service.headers("operator"))
        assert all(r["status"] != "open" for r in queue.json())


async def test_batch_refresh_lists_and_publishes_after_grace(service: Service) -> None:
    from xinyong.due_process.refresh import refresh_all
    from xinyong.ledger.database import WRITE_LOCK

    ctx = service.app.state.context

    def refresh() -> dict[str, int]:
        with service.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            return refresh_all(conn, ctx.registry, service.clock(), ctx.catalog)

    async with service.client() as client:
        await client.post(
            "/v1/records", headers=service.headers("source"), json={"records": [DEFAULT]}
        )
        assert refresh() == {"rongcheng": 0}  # the submission already listed the subject
        public = (await client.get("/v1/lists/rongcheng/blacklist")).json()
        assert public["total"] == 0  # noticed, not yet public: the grace period runs
        service.clock.advance(30)
        public = (await client.get("/v1/lists/rongcheng/blacklist")).json()
        assert public["total"] == 1
        entry = public["entries"][0]
        assert entry["subject"] == PERSON[:6] + "*" * 11 + PERSON[-1]  # masked
        assert PERSON not in str(public)
        service.clock.advance(3 * 365 + 10)  # the default counts 3 years (the catalog allows 5)
        assert refresh() == {"rongcheng": 1}
        assert (await client.get("/v1/lists/rongcheng/blacklist")).json()["total"] == 0
        assert refresh() == {"rongcheng": 0}


async def test_concurrent_checks_do_not_fail(service: Service) -> None:
    import asyncio

    async with service.client() as client:

        async def one() -> int:
            response = await client.get(
                "/v1/checks",
                params={"subject": PERSON, "measure": "restrict-flights"},
                headers=service.headers("relying"),
            )
            return response.status_code

        codes = await asyncio.gather(*(one() for _ in range(100)))
    assert set(codes) == {200}


def test_an_app_served_twice_answers_checks_each_time(ledger_url: str) -> None:
    """Its lifespan opens what the PostgreSQL check path keeps (a pool of readers, a connection
    for the inquiry log) anew each time it is served, on a new event loop, as tests and
    embedders do."""
    svc = make_service(ledger_url)

    async def serve_once() -> int:
        async with svc.app.router.lifespan_context(svc.app), svc.client() as client:
            answer = await client.get(
                "/v1/checks",
                params={"subject": PERSON, "measure": "restrict-flights"},
                headers=svc.headers("relying"),
            )
            return answer.status_code

    try:
        assert [asyncio.run(serve_once()) for _ in range(2)] == [200, 200]
    finally:
        svc.engine.dispose()


def test_what_the_service_holds_is_frozen_while_it_serves(tmp_path: Path) -> None:
    """The objects the app holds for its life are out of the collector's full collections while
    it serves (a full collection of them paused checks for 110 ms), and collectable again once
    it has stopped."""
    svc = make_service(f"sqlite:///{tmp_path / 'ledger.db'}")

    async def serve() -> int:
        async with svc.app.router.lifespan_context(svc.app):
            return gc.get_freeze_count()

    try:
        assert asyncio.run(serve()) > 10_000
        assert gc.get_freeze_count() == 0
    finally:
        svc.engine.dispose()
