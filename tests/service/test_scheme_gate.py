"""The activation gate through the API: every guardrail finding refuses a scheme (422 listing
it) until an operator overrides it with a reason and the official responsible; the override is
then public (the scheme's page, the transparency report) and returned with every check."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from tests.support.findings import FINDINGS, FOREVER, LAWFUL
from tests.support.service_fixtures import Service, make_service
from xinyong.decisions.replay import decision_overrides, load_decision
from xinyong.schemes.load import parse_scheme

pytestmark = pytest.mark.anyio
OFFICIAL = "Zhao Lei, head of the credit office"
TOML = {"content-type": "application/toml"}


def _override(finding: str, reason: str = "ordered by the provincial office") -> dict[str, str]:
    return {"finding": finding, "reason": reason, "official": OFFICIAL}


@pytest.fixture
def service(ledger_url: str) -> Iterator[Service]:
    svc = make_service(ledger_url)
    yield svc
    svc.engine.dispose()


@pytest.mark.parametrize("check", sorted(FINDINGS))
async def test_each_finding_is_refused_until_overridden(service: Service, check: str) -> None:
    text = FINDINGS[check]
    loaded = parse_scheme(text)
    operator = service.headers("operator")
    async with service.client() as client:
        refused = await client.post("/v1/schemes", content=text, headers={**operator, **TOML})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert [f["check"] for f in detail["findings"]] == [check]
        [finding] = detail["findings"]
        assert finding["finding"].startswith(f"{check}@")
        assert finding["line"] is not None
        versions = (await client.get("/v1/schemes", headers=operator)).json()
        assert loaded.scheme.id not in {v["scheme_id"] for v in versions}  # nothing stored

        unnamed = await client.post(
            "/v1/schemes",
            json={"source": text, "overrides": [_override("no-such-finding")]},
            headers=operator,
        )
        assert unnamed.status_code == 422
        no_official = await client.post(
            "/v1/schemes",
            json={"source": text, "overrides": [{**_override(check), "official": ""}]},
            headers=operator,
        )
        assert no_official.status_code == 422

        added = await client.post(
            "/v1/schemes",
            json={"source": text, "overrides": [_override(finding["finding"])]},
            headers=operator,
        )
        assert added.status_code == 201, added.text
        [recorded] = added.json()["overrides"]
        assert (recorded["finding"], recorded["official"]) == (finding["finding"], OFFICIAL)

        page = (await client.get(f"/schemes/{loaded.scheme.id}.json")).json()
        assert [o["finding"] for o in page["overrides"]] == [finding["finding"]]
        html = (await client.get(f"/schemes/{loaded.scheme.id}")).text
        assert "Activated despite guardrail findings" in html
        assert OFFICIAL in html
        report = (await client.get("/transparency.json")).json()["report"]
        mine = [o for o in report["overrides"] if o["scheme"] == loaded.scheme.id]
        assert [(o["finding"], o["active"], o["reason"]) for o in mine] == [
            (finding["finding"], True, "ordered by the provincial office")
        ]
        listed = (await client.get("/v1/schemes/overrides", headers=operator)).json()
        assert finding["finding"] in {o["finding"] for o in listed}


async def test_activation_through_the_api_and_checks_that_say_so(service: Service) -> None:
    text = FINDINGS["bare-score-sanction"]
    version = parse_scheme(text).version
    operator = service.headers("operator")
    async with service.client() as client:
        stored = await client.post(
            "/v1/schemes", json={"source": text, "activate": False}, headers=operator
        )
        assert stored.status_code == 201, stored.text
        assert stored.json()["active"] is False
        refused = await client.post(
            "/v1/schemes/gate-test/activate", json={"version": version}, headers=operator
        )
        assert refused.status_code == 422
        assert refused.json()["detail"]["findings"][0]["check"] == "bare-score-sanction"
        activated = await client.post(
            "/v1/schemes/gate-test/activate",
            json={"version": version[:12], "overrides": [_override("bare-score-sanction")]},
            headers=operator,
        )
        assert activated.status_code == 200, activated.text
        registered = await client.post(
            "/v1/relying-parties",
            json={"name": "rail", "measures": ["gate-no-flights"], "purpose": "tickets"},
            headers=operator,
        )
        assert registered.status_code in (200, 201), registered.text
        key = await client.post(
            "/v1/keys", json={"role": "relying", "name": "rail"}, headers=operator
        )
        token = key.json()["token"]
        answer = await client.get(
            "/v1/checks",
            params={"subject": "ext:anyone", "measure": "gate-no-flights"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        [said] = answer.json()["overrides"]
        assert said["finding"] == "bare-score-sanction@measures.gate-no-flights.grades"
        assert said["official"] == OFFICIAL
        replay = await client.get(f"/v1/decisions/{answer.json()['decision_id']}", headers=operator)
        assert replay.json()["overrides"] == [said]
    # a replay states the overrides on record when the decision was made, none recorded after
    with service.engine.connect() as conn:
        decision = load_decision(conn, answer.json()["decision_id"])
        assert decision_overrides(conn, decision) == (said,)
        earlier = dataclasses.replace(decision, made_at="2000-01-01T00:00:00.000000Z")
        assert decision_overrides(conn, earlier) == ()


async def test_errors_and_lawful_schemes(service: Service) -> None:
    operator = service.headers("operator")
    async with service.client() as client:
        forever = await client.post(
            "/v1/schemes",
            json={"source": FOREVER, "overrides": [_override("no-expiry")]},
            headers=operator,
        )
        assert forever.status_code == 422  # outlives the catalog: an error, never overridden
        assert any("outlives-catalog" in line for line in forever.json()["detail"])
        lawful = await client.post("/v1/schemes", content=LAWFUL, headers={**operator, **TOML})
        assert lawful.status_code == 201, lawful.text
        assert lawful.json()["overrides"] == []
        broken = await client.post(
            "/v1/schemes",
            content=b'{"source": ',
            headers={**operator, "content-type": "application/json"},
        )
        assert broken.status_code == 422
        assert broken.json()["detail"][0]["type"] == "json_invalid"
        extra = await client.post(
            "/v1/schemes", json={"source": LAWFUL, "surprise": 1}, headers=operator
        )
        assert extra.status_code == 422
        assert extra.json()["detail"][0]["loc"] == ["body", "surprise"]
