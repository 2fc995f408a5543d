"""Measures that reach a listed organisation's people: the check, its replay, the person's file,
the adverse notice, an objection to the relation, and a relation that has ended."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support import rfc6962
from tests.support.overridden import overridden_body
from tests.support.service_fixtures import PERSON, SCHEME, Service
from tests.support.web_fixtures import sign_in
from xinyong.cli.app import app
from xinyong.domain.identifiers import mask_organization_id, synthetic_resident_id, synthetic_uscc

pytestmark = pytest.mark.anyio

ORG = synthetic_uscc(1101, 42)
FORMER = synthetic_resident_id(9, date(1970, 1, 1), 3)
"""A person who was the legal representative until 2024."""
EXTENDED = (
    SCHEME.read_text(encoding="utf-8")
    .replace('subject_kinds = ["person"]', 'subject_kinds = ["person", "organization"]')
    .replace(
        'description = "No purchase of flight tickets"',
        'description = "No purchase of flight tickets"\n'
        'extends_to = ["legal_representative", "actual_controller"]',
    )
)
"""The example scheme with its sanction extended to a listed organisation's people."""


def _record(
    record_id: str, subject: str, kind: str, code: str, day: str, **attrs: Any
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "subject_id": subject,
        "subject_kind": kind,
        "code": code,
        "occurred_at": day,
        "case_id": "k-" + record_id,
        "attrs": attrs,
    }


async def _check(client: httpx.AsyncClient, service: Service, subject: str) -> dict[str, Any]:
    answer = await client.get(
        "/v1/checks",
        params={"subject": subject, "measure": "restrict-flights"},
        headers=service.headers("relying"),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _submit(client: httpx.AsyncClient, service: Service) -> dict[str, Any]:
    """The organisation's listing, its two representatives and four malformed relations."""
    records = [
        # the organisation: a breach judgment puts it on the black list
        _record("o1", ORG, "organization", "court.breach_judgment", "2025-03-01"),
        # PERSON has been its legal representative since 2020 (id in lower case: made
        # canonical at ingest); FORMER was until 2024-12-31
        _record(
            "rel1",
            ORG,
            "organization",
            "relation.legal_representative",
            "2020-01-01",
            person=PERSON.lower(),
        ),
        _record(
            "rel2",
            ORG,
            "organization",
            "relation.legal_representative",
            "2015-01-01",
            person=FORMER,
            until="2024-12-31",
        ),
        # malformed relations are refused with the field named
        _record("bad1", ORG, "organization", "relation.principal", "2020-01-01"),
        _record("bad2", ORG, "organization", "relation.principal", "2020-01-01", person=ORG),
        _record(
            "bad3",
            ORG,
            "organization",
            "relation.principal",
            "2020-01-01",
            person=PERSON,
            until="2019-12-31",
        ),
        _record("bad4", PERSON, "person", "relation.principal", "2020-01-01", person=FORMER),
    ]
    submitted = await client.post(
        "/v1/records", headers=service.headers("source"), json={"records": records}
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["accepted"] == 3
    refused = [r["field"] for r in submitted.json()["rejected"]]
    assert refused == ["attrs.person", "attrs.person", "attrs.until", "code"]
    return dict(submitted.json())


async def _grounds_are_the_relation(
    client: httpx.AsyncClient, service: Service, receipt: str
) -> None:
    """The receipt proves the relation record the measure reached the person through, checked
    by the independent verifier against the signed checkpoint of its size."""
    key = (await client.get("/v1/ledger/public-key")).text
    statement = json.loads(rfc6962.open_note(receipt, key).split("\n")[1])
    [ground] = statement["grounds"]
    with service.engine.connect() as conn:
        rel1 = conn.exec_driver_sql(
            "SELECT position FROM records WHERE record_id = 'rel1'"
        ).scalar_one()
    assert ground["index"] == rel1
    size = statement["checkpoint"]["size"]
    note = await client.get("/v1/ledger/checkpoint", params={"size": size})
    _, _, root = rfc6962.open_checkpoint(note.text, key)
    path = [bytes.fromhex(h) for h in ground["proof"]]
    assert rfc6962.verify_inclusion(bytes.fromhex(ground["leaf_hash"]), rel1, size, path, root)
    # the organisation's entries are not the airline's to ask about: it checked only the person
    refused = await client.get(
        "/v1/ledger/proof/inclusion",
        params={"index": rel1, "size": size},
        headers=service.headers("relying"),
    )
    assert refused.status_code == 404


def _explained(service: Service, tmp_path: Path) -> dict[str, Any]:
    """``xinyong explain --json`` of PERSON under the extended scheme, over the ledger."""
    scheme = tmp_path / "extended.toml"
    scheme.write_text(EXTENDED, encoding="utf-8")
    url = service.engine.url.render_as_string(hide_password=False)
    explained = CliRunner().invoke(
        app,
        ["explain", str(scheme), "--subject", PERSON, "--as-of", "2025-06-30"]
        + ["--db", url, "--json"],
    )
    assert explained.exit_code == 0, explained.output
    shown = next(line for line in explained.output.splitlines() if line.startswith("{"))
    return dict(json.loads(shown))


async def test_a_listed_organisations_representative_is_subject_to_the_measure(
    service: Service, tmp_path: Path
) -> None:
    assert "extends_to" in EXTENDED
    async with service.client() as client:
        posted = await client.post(
            "/v1/schemes", json=overridden_body(EXTENDED), headers=service.headers("operator")
        )
        assert posted.status_code == 201, posted.text
        # Before anything is recorded the person is not subject to it.
        assert (await _check(client, service, PERSON))["applies"] is False
        submitted = await _submit(client, service)
        # the airline's earlier "no" about PERSON is corrected: the organisation's change
        # reaches the people its relation records name
        assert submitted["corrections_queued"] == 1

        answer = await _check(client, service, PERSON)
        assert answer["applies"] is True
        masked = mask_organization_id(ORG)
        assert ORG not in answer["reason"]
        assert answer["reason"] == f"as legal representative of {masked}, listed under blacklist"
        await _grounds_are_the_relation(client, service, answer["receipt"])
        # the organisation itself: applies, for its own reasons, with no reason given
        own = await _check(client, service, ORG)
        assert own["applies"] is True
        assert "reason" not in own
        # a former representative is not reached
        assert (await _check(client, service, FORMER))["applies"] is False

        # The replay derives the same answer, naming the relation in full to the operator.
        replay = (
            await client.get(
                f"/v1/decisions/{answer['decision_id']}", headers=service.headers("operator")
            )
        ).json()
        assert replay["reproduced"] is True
        assert replay["related"]["organization"] == ORG
        assert replay["related"]["role"] == "legal_representative"
        assert replay["related"]["record"] == "bank/rel1"

        # The person's file shows the relation record, the role and the measure it brings, and
        # the adverse notice says why.
        mine = (await client.get("/v1/me", headers=service.headers("subject"))).json()
        [relation] = [r for r in mine["records"] if r["code"] == "relation.legal_representative"]
        assert (relation["record"], relation["about"]) == ("bank/rel1", ORG)
        assert relation["attrs"]["person"] == PERSON
        assert mine["relations"] == [
            {
                "organization": ORG,
                "role": "legal_representative",
                "since": "2020-01-01",
                "until": None,
                "record": "bank/rel1",
            }
        ]
        [reaching] = mine["related_measures"]
        assert (reaching["measure"], reaching["organization"]) == ("restrict-flights", ORG)
        assert reaching["lists"] == ["blacklist"]
        notice = next(n for n in mine["notices"] if n["kind"] == "adverse-check")
        assert notice["related"]["organization"] == ORG
        # ... and so does the portal's page of it
        await sign_in(client, service.tokens["subject"])
        page = (await client.get("/me")).text
        assert "Your roles in organisations" in page
        assert f"legal representative of <code>{ORG}</code> since 2020-01-01" in page
        assert "No purchase of flight tickets, as legal representative of" in page

        # `xinyong explain` over the ledger says so too.
        [reaching] = _explained(service, tmp_path)["related_measures"]
        assert (reaching["measure"], reaching["record"]) == ("restrict-flights", "bank/rel1")

        # The person objects to the relation record; upheld, the measure no longer reaches them.
        objection = await client.post(
            "/v1/me/objections",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "rel1", "reason": "I resigned in 2019"},
        )
        assert objection.status_code == 201, objection.text
        # ... but not to the organisation's own record
        not_mine = await client.post(
            "/v1/me/objections",
            headers=service.headers("subject"),
            json={"source": "bank", "record_id": "o1", "reason": "not me"},
        )
        assert not_mine.status_code in (403, 404, 409, 422), not_mine.text
        decided = await client.post(
            f"/v1/objections/{objection.json()['objection_id']}/decision",
            headers=service.headers("operator"),
            json={"accept": True, "reason": "the registry shows a new representative"},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["corrections_queued"] == 1  # the airline's "yes" about PERSON
        assert (await _check(client, service, PERSON))["applies"] is False
        # the first decision still replays as it was made
        again = (
            await client.get(
                f"/v1/decisions/{answer['decision_id']}", headers=service.headers("operator")
            )
        ).json()
        assert again["reproduced"] is True


async def test_a_public_entry_shows_the_fields_its_list_publishes(service: Service) -> None:
    published = EXTENDED.replace(
        "disclose = true",
        'disclose = true\npublish = ["sex", "age", "legal_representative", "obligation", '
        '"circumstances", "court"]',
    )
    async with service.client() as client:
        posted = await client.post(
            "/v1/schemes", json=overridden_body(published), headers=service.headers("operator")
        )
        assert posted.status_code == 201, posted.text
        records = [
            _record(
                "p1",
                PERSON,
                "person",
                "court.defaulter",
                "2025-03-01",
                ground=2,
                aggravated=True,
                amount=120000.5,
            ),
            _record("o1", ORG, "organization", "court.defaulter", "2025-03-01",
                    obligation="deliver 40 t of steel", ground=1),
            _record("rel1", ORG, "organization", "relation.legal_representative", "2020-01-01",
                    person=PERSON),
        ]  # fmt: skip
        submitted = await client.post(
            "/v1/records", headers=service.headers("source"), json={"records": records}
        )
        assert submitted.json()["accepted"] == 3, submitted.text
        service.clock.advance(31)  # past the grace period: the entries are public
        listed = (await client.get("/lists/rongcheng/blacklist.json")).json()["entries"]
        by_kind = {e["kind"]: e["entry_id"] for e in listed}
        person = (await client.get(f"/lists/rongcheng/blacklist/{by_kind['person']}.json")).json()
        organization = (
            await client.get(f"/lists/rongcheng/blacklist/{by_kind['organization']}.json")
        ).json()
        page = (await client.get(f"/lists/rongcheng/blacklist/{by_kind['person']}")).text
    # PERSON: born 1985-05-05, order code 007 (odd: male), 40 on 2025-07-31
    assert {f["field"]: f["value"] for f in person["published"]} == {
        "sex": "male",
        "age": "40",
        "obligation": "pay 120,000.50 yuan",
        "circumstances": "obstructs execution with false evidence, violence or threats "
        "(aggravated)",
        "court": "bank",
    }
    assert "<dt>Sex</dt><dd>male</dd>" in page
    # the organisation: no sex or age; its legal representative masked as on any public page
    shown = {f["field"]: f["value"] for f in organization["published"]}
    assert shown["legal_representative"] == PERSON[:6] + "*" * 11 + PERSON[-1]
    assert shown["obligation"] == "deliver 40 t of steel"
    assert shown["circumstances"] == "able to perform but refuses to"
    assert "sex" not in shown


async def test_a_person_reached_through_a_relation_can_have_it_reviewed(service: Service) -> None:
    async with service.client() as client:
        operator, subject = service.headers("operator"), service.headers("subject")
        posted = await client.post("/v1/schemes", json=overridden_body(EXTENDED), headers=operator)
        assert posted.status_code == 201, posted.text
        await _submit(client, service)
        answer = await _check(client, service, PERSON)
        assert answer["applies"] is True
        asked = await client.post(
            "/v1/me/reviews",
            headers=subject,
            json={"kind": "check", "target": answer["decision_id"], "reason": "not my firm"},
        )
        assert asked.status_code == 201, asked.text
        path = f"/v1/reviews/{asked.json()['review_id']}/decision"
        # the organisation's own record is not in the person's file; the relation record is
        foreign = await client.post(
            path, headers=operator, json={"change": True, "reason": "x", "void": ["bank/o1"]}
        )
        assert foreign.status_code == 422, foreign.text
        decided = await client.post(
            path,
            headers=operator,
            json={"change": True, "reason": "the registry names another", "void": ["bank/rel1"]},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["voided"] == ["bank/rel1"]
        assert (await _check(client, service, PERSON))["applies"] is False
