"""The portal in process: who may see each page, sign-in and CSRF, every page parsed, every JSON
twin checked against its page, search and masking, and the due-process flow through forms."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.identifier_strategies import FULL_WIDTH
from tests.support.overridden import add_overridden
from tests.support.pages import Page, check_page
from tests.support.service_fixtures import OTHER, PERSON, SCHEME
from tests.support.web_fixtures import (
    OTHER_NAME,
    PERSON_NAME,
    Portal,
    form_token,
    sign_in,
)
from xinyong.application.changes import after_changes
from xinyong.application.ratelimit import TokenBuckets
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.due_process.masking import MaskingPolicy, PersonIdMask, PersonNameMask
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.database import WRITE
from xinyong.schemes.load import parse_scheme
from xinyong.web.lists import CSV_COLUMNS, _cell
from xinyong.web.sessions import SESSION_COOKIE

pytestmark = pytest.mark.anyio
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "xinyong" / "web" / "templates"


def json_of(path: str) -> str:
    base, _, query = path.partition("?")
    twin = "/index.json" if base == "/" else f"{base}.json"
    return f"{twin}?{query}" if query else twin


async def _entry_ids(client: httpx.AsyncClient) -> dict[str, str]:
    listed = (await client.get("/lists/rongcheng/blacklist.json")).json()
    return {e["name"]: e["entry_id"] for e in listed["entries"]}


# ---------------------------------------------------------------- who may see what

PUBLIC = ["/", "/lists/rongcheng/blacklist", "/schemes/rongcheng", "/transparency", "/login"]
SUBJECT = ["/me"]
OPERATOR = [
    "/console",
    "/console/objections",
    "/console/repairs",
    "/console/reviews",
    "/console/appeals",
    "/console/verify",
    "/console/keys",
    "/console/relying-parties",
]


@asynccontextmanager
async def _signed_in(portal: Portal, role: str) -> AsyncIterator[httpx.AsyncClient]:
    async with portal.service.client() as client:
        if role != "anonymous":
            response = await sign_in(client, portal.tokens[role])
            assert response.status_code == 303, response.text
        yield client


@pytest.mark.parametrize("visitor", ["anonymous", "subject", "operator"])
async def test_every_page_admits_exactly_its_roles(portal: Portal, visitor: str) -> None:
    entry = ""
    async with _signed_in(portal, visitor) as client:
        entry = next(iter((await _entry_ids(client)).values()))
        pages = PUBLIC + [f"/lists/rongcheng/blacklist/{entry}"] + SUBJECT + OPERATOR
        for path in pages:
            allowed = (
                path not in SUBJECT + OPERATOR
                or (path in SUBJECT and visitor == "subject")
                or (path in OPERATOR and visitor == "operator")
            )
            html, twin = await client.get(path), await client.get(json_of(path))
            if allowed:
                assert (html.status_code, twin.status_code) == (200, 200), (visitor, path)
                assert twin.headers["content-type"] == "application/json"
            elif visitor == "anonymous":
                assert html.status_code == 303, path
                assert html.headers["location"] == f"/login?next={path.replace('/', '%2F')}"
                assert twin.status_code == 401, path
            else:
                assert (html.status_code, twin.status_code) == (403, 403), (visitor, path)
        forms = {
            "/me/objections": "subject",
            "/me/repairs": "subject",
            "/me/reviews": "subject",
            "/me/appeals": "subject",
            "/me/objections/x/information": "subject",
            "/console/objections/x/decision": "operator",
            "/console/repairs/x/decision": "operator",
            "/console/reviews/x/decision": "operator",
            "/console/appeals/x/decision": "operator",
            "/console/keys": "operator",
            "/console/keys/x/revoke": "operator",
            "/console/relying-parties": "operator",
            "/console/relying-parties/withdraw": "operator",
        }
        for path, role in forms.items():
            posted = await client.post(path, data={"csrf": "forged"})
            expected = {"anonymous": 401, role: 403}.get(visitor, 403)
            assert posted.status_code == expected, (visitor, path)


def test_pages_stay_out_of_the_api_document(local_portal: Portal) -> None:
    paths = local_portal.service.app.openapi()["paths"]
    assert all(p.startswith("/v1/") or p in ("/health", "/ready") for p in paths)


async def test_only_subjects_and_operators_sign_in(local_portal: Portal) -> None:
    for role, status in (("source", 403), ("relying", 403)):
        async with local_portal.service.client() as client:
            response = await sign_in(client, local_portal.tokens[role])
            assert response.status_code == status
            assert SESSION_COOKIE not in client.cookies
    async with local_portal.service.client() as client:
        response = await sign_in(client, "xy_nope_nope")
        assert response.status_code == 401
        assert "unknown or revoked" in Page(response.text).text


async def test_sign_in_needs_the_forms_own_token(local_portal: Portal) -> None:
    async with local_portal.service.client() as client:
        forged = await client.post(
            "/login", data={"token": local_portal.tokens["subject"], "login_token": "guess"}
        )
        assert forged.status_code == 403
        assert SESSION_COOKIE not in client.cookies


async def test_session_cookie_flags_and_next_page(local_portal: Portal) -> None:
    async with local_portal.service.client() as client:
        page = await client.get("/login?next=/me%23records")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text)
        assert token
        signed = await client.post(
            "/login",
            data={
                "token": local_portal.tokens["subject"],
                "login_token": token.group(1),
                "next": "/me#records",
            },
        )
        assert signed.headers["location"] == "/me#records"
        cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain http here
    secure = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=local_portal.service.app), base_url="https://portal.test"
    )
    async with secure as client:
        signed = await sign_in(client, local_portal.tokens["operator"])
        assert "Secure" in signed.headers["set-cookie"]
        assert signed.headers["location"] == "/console"


async def test_a_redirect_never_leaves_the_site(local_portal: Portal) -> None:
    async with local_portal.service.client() as client:
        page = await client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text)
        assert token
        signed = await client.post(
            "/login",
            data={
                "token": local_portal.tokens["subject"],
                "login_token": token.group(1),
                "next": "//evil.example/",
            },
        )
        assert signed.headers["location"] == "/me"


async def test_revoking_the_key_or_signing_out_ends_the_session(local_portal: Portal) -> None:
    service = local_portal.service
    async with service.client() as admin:
        made = await admin.post(
            "/v1/keys", headers=service.headers("operator"), json={"role": "subject", "name": OTHER}
        )
    async with service.client() as client:
        await sign_in(client, made.json()["token"])
        assert (await client.get("/me")).status_code == 200
        async with service.client() as admin:
            await admin.delete(
                f"/v1/keys/{made.json()['key_id']}", headers=service.headers("operator")
            )
        assert (await client.get("/me")).status_code == 303
    async with service.client() as client:
        await sign_in(client, service.tokens["subject"])
        csrf = form_token((await client.get("/me")).text)
        cookie = client.cookies[SESSION_COOKIE]
        assert (await client.post("/logout", data={"csrf": "forged"})).status_code == 403
        assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
        client.cookies.set(SESSION_COOKIE, cookie)  # the old cookie no longer opens anything
        assert (await client.get("/me")).status_code == 303


async def test_forms_refuse_a_forged_token(local_portal: Portal) -> None:
    async with _signed_in(local_portal, "subject") as client:
        forged = await client.post(
            "/me/objections", data={"csrf": "x" * 64, "record": "bank/d1", "reason": "not mine"}
        )
        assert forged.status_code == 403
        assert (await client.get("/me.json")).json()["objections"] == []


# ---------------------------------------------------------------- every page, parsed


async def test_every_page_parses_and_shows_no_unmasked_id(portal: Portal) -> None:
    async with _signed_in(portal, "anonymous") as client:
        entries = await _entry_ids(client)
        public = PUBLIC + [f"/lists/rongcheng/blacklist/{e}" for e in entries.values()]
        public += ["/lists/rongcheng/nope"]  # the error page too
        for path in public:
            response = await client.get(path)
            page = check_page(response.text)
            for secret in (PERSON, OTHER, PERSON_NAME, OTHER_NAME):
                assert secret not in response.text, (path, secret)
                assert secret not in (await client.get(json_of(path))).text, (path, secret)
            assert json_of(path).split("?")[0] in page.links  # each page links its twin
            assert response.headers["content-security-policy"].startswith("default-src 'none'")
    async with _signed_in(portal, "subject") as client:
        response = await client.get("/me")
        page = check_page(response.text)
        assert PERSON in response.text
        assert OTHER not in response.text
        assert OTHER_NAME not in response.text
        assert response.headers["cache-control"] == "no-store"
        assert {"Your standing", "What would lift your grade", "Object to a record"} <= {
            t.strip() for _, t in page.headings
        }
    async with _signed_in(portal, "operator") as client:
        for path in OPERATOR:
            response = await client.get(path)
            check_page(response.text)
            assert response.headers["cache-control"] == "no-store"


def test_templates_load_nothing_from_elsewhere() -> None:
    for template in TEMPLATES.glob("*.html"):
        assert not re.search(r"(src|href)=\"(https?:)?//", template.read_text(encoding="utf-8"))


async def test_static_files_are_served(local_portal: Portal) -> None:
    async with local_portal.service.client() as client:
        script = await client.get("/static/htmx.min.js")
        assert script.status_code == 200
        assert "htmx" in script.text[:200]
        assert (await client.get("/static/site.css")).status_code == 200


# ---------------------------------------------------------------- twins agree with pages


async def test_list_page_and_twin(portal: Portal) -> None:
    async with portal.service.client() as client:
        data = (await client.get("/lists/rongcheng/blacklist.json")).json()
        page = Page((await client.get("/lists/rongcheng/blacklist")).text)
        assert data["total"] == 2
        assert f"{data['total']} entries" in page.text
        for entry in data["entries"]:
            assert entry["subject"] in page.text
            assert entry["name"] in page.text
            assert f"/lists/rongcheng/blacklist/{entry['entry_id']}" in page.links
        # masked as the default policy says: region prefix and check character, family name
        assert {(e["subject"], e["name"]) for e in data["entries"]} == {
            (PERSON[:6] + "*" * 11 + PERSON[-1], "王**"),
            (OTHER[:6] + "*" * 11 + OTHER[-1], "李*"),
        }
        home = (await client.get("/index.json")).json()
        [scheme] = home["schemes"]
        assert scheme["lists"] == [
            {"list": "blacklist", "kind": "black", "description": "", "entries": 2}
        ]


async def test_entry_page_and_twin(portal: Portal) -> None:
    async with portal.service.client() as client:
        entry = (await _entry_ids(client))["李*"]
        data = (await client.get(f"/lists/rongcheng/blacklist/{entry}.json")).json()
        page = Page((await client.get(f"/lists/rongcheng/blacklist/{entry}")).text)
    # OTHER's court judgment of 2025-05-01: rule "court" (-50, valid 2y); the catalog shows
    # court.breach_judgment for 1 year, so it stops counting on 2026-05-01.
    [reason] = data["reasons"]
    assert (reason["rule"], reason["code"], reason["occurred_at"]) == (
        "court",
        "court.breach_judgment",
        "2025-05-01",
    )
    assert (reason["source"], reason["points"]) == ("bank", -50)
    assert reason["counts_until"] == "2026-05-01"
    assert data["ends_on"] == "2026-05-01"
    assert data["measures"][0]["basis"] == (
        "SPC Provisions on restricting high consumption (2015), Art. 3"
    )
    for text in (reason["description"], data["measures"][0]["basis"], data["ends_on"]):
        assert text in page.text
    assert {"How to object", "How repair works", "Until when"} <= {t for _, t in page.headings}
    assert f"within {reason['objection_days']} days" in page.text


async def test_scheme_page_and_twin(local_portal: Portal) -> None:
    async with local_portal.service.client() as client:
        data = (await client.get("/schemes/rongcheng.json")).json()
        page = Page((await client.get("/schemes/rongcheng")).text)
    words = {r["rule"]: r["words"] for r in data["rules"]}
    # tests/data/example_scheme.toml, rule contract-default, said in words
    for part in (
        "takes away 20 points",
        "counts for 3 years after the day it happened",
        "weighing less and less",
        "At most 100 points in all",
        "“finance.repaid” in the same case ends it",
        "no better than C",
        "for which amount >= 10000 and not (channel = 'online')",
    ):
        assert part in words["contract-default"]
    assert "adds 5 points" in words["good"]
    assert [g["band"] for g in data["grades"]] == [
        "1050 points or more",
        "from 1000 to below 1050 points",
        "from 900 to below 1000 points",
        "below 900 points",
    ]
    assert data["summary"] == (
        "It scores people. Everyone starts at 1000 points; the score never goes below 0 and "
        "never goes above 1200."
    )
    for item in data["rules"] + data["lists"] + data["measures"]:
        assert item["words"] in page.text


async def test_transparency_page_and_twin(portal: Portal) -> None:
    async with portal.service.client() as client:
        data = (await client.get("/transparency.json")).json()
        html = (await client.get("/transparency")).text
    report = data["report"]
    [item] = report["lists"]
    assert (item["list"], item["size"], item["sizes"]) == ("rongcheng/blacklist", 2, {"2025-06": 2})
    sizes = data["charts"]["sizes"]
    assert sizes["x"] == ["2025-06"]
    assert sizes["series"] == [{"label": "rongcheng/blacklist", "values": [2.0]}]
    assert html.count('role="img"') == 1 + len(data["charts"]["flows"]) + 1
    assert "Latest values: rongcheng/blacklist: 2 (2025-06)" in html
    assert report["checks_per_relying_party"] == {"airline": 1}


async def test_my_file_page_and_twin(portal: Portal) -> None:
    async with _signed_in(portal, "subject") as client:
        data = (await client.get("/me.json")).json()
        page = Page((await client.get("/me")).text)
    for record in data["records"]:
        assert record["record"] in page.text
        assert record["status"] in page.text
    assert [(r["record"], r["status"]) for r in data["records"]] == [
        ("bank/d1", "counting"),
        ("bank/v1", "counting"),
    ]
    [standing] = data["standings"]
    # 1000 - 20 * (1 - 151/1096) (linear decay, age 151 days of a 3-year term that holds 29
    # February 2028) + 5 (volunteer service)
    assert standing["score"] == round(1000 - 20 * (1 - 151 / 1096) + 5, 2)
    assert standing["grade"] == "C"  # the contract default's veto
    assert re.search(rf"Score {standing['score']} , grade C", page.text)
    [check] = data["checks"]
    assert (check["relying_party"], check["measure"], check["applies"]) == (
        "airline",
        "restrict-flights",
        True,
    )
    [view] = data["schemes"]
    # If nothing new happens: the volunteer record leaves at the end of its display period
    # (2026-04-01): the decayed default alone, still vetoed to C; then the default at the end
    # of its valid_for, 3 years after 2025-03-01 (the catalog would show it 5): 1000, grade A.
    steps = [(s["on"], s["records_ending"], s["score"], s["grade"]) for s in view["outlook"]]
    assert steps[0] == ("2026-04-01", ["bank/v1"], round(1000 - 20 * (1 - 396 / 1096), 2), "C")
    assert steps[1:] == [("2028-03-01", ["bank/d1"], 1000.0, "A")]  # 3 calendar years on
    assert [s["lists"] for s in view["outlook"]] == [["blacklist"], []]
    assert [r["rule"] for r in view["rewarded"]] == ["good"]
    history = {h["on"]: h["score"] for h in view["history"]}
    assert next(iter(history)) == "2024-07-01"
    assert list(history)[-1] == "2025-07-30"
    assert history["2025-02-01"] == 1000.0  # before any record
    assert history["2025-07-30"] == standing["score"]
    # general tier: repair from 3 months (90 days) after 2025-03-01; positive records never
    assert [r["repair_from"] for r in data["records"]] == ["2025-05-30", None]
    assert data["repairable"] == ["bank/d1"]


# ---------------------------------------------------------------- search, order, pages, masking


async def _found(client: httpx.AsyncClient, **params: str) -> list[str]:
    listed = (await client.get("/lists/rongcheng/blacklist.json", params=params)).json()
    return [e["name"] for e in listed["entries"]]


async def test_search_finds_full_ids_and_names_but_no_hidden_part(portal: Portal) -> None:
    async with portal.service.client() as client:
        assert await _found(client, q=PERSON) == ["王**"]
        assert await _found(client, q=PERSON_NAME) == ["王**"]
        assert await _found(client, q="王") == ["王**"]
        assert await _found(client, q=OTHER_NAME) == ["李*"]
        wide = "".join(FULL_WIDTH.get(c, c) for c in PERSON)
        for spelling in (wide, f"\u3000{PERSON} ", PERSON.lower()):  # one id, its canonical form
            assert await _found(client, q=spelling) == ["王**"], spelling
        inner = f"{PERSON[:6]} {PERSON[6:]}"  # nothing inside an id is ignored
        for hidden in (PERSON[:10], PERSON[6:14], "小明", "王小", "%", "_", inner):
            assert await _found(client, q=hidden) == [], hidden
        page = (await client.get("/lists/rongcheng/blacklist", params={"q": PERSON})).text
        for echo in (f"q={PERSON}", f'value="{PERSON}"', f"“{PERSON}”"):  # the query, echoed
            page = page.replace(echo, "")
        assert PERSON not in page


async def test_order_and_pages(local_portal: Portal) -> None:
    service = local_portal.service
    async with service.client() as client:
        # a third person, listed later than the other two
        third = {
            "record_id": "j2",
            "subject_id": synthetic_resident_id(9, date(1990, 1, 1), 3),
            "subject_kind": "person",
            "code": "court.breach_judgment",
            "occurred_at": "2025-07-01",
        }
        submitted = await client.post(
            "/v1/records", headers=service.headers("source"), json={"records": [third]}
        )
        assert submitted.json()["accepted"] == 1
        service.clock.advance(30)
        newest = (await client.get("/lists/rongcheng/blacklist.json")).json()["entries"]
        oldest = (
            await client.get("/lists/rongcheng/blacklist.json", params={"order": "oldest"})
        ).json()["entries"]
        assert newest[0]["listed_on"] == "2025-07-30"
        assert oldest[-1]["listed_on"] == "2025-07-30"
        assert [e["listed_on"] for e in newest] == sorted(
            (e["listed_on"] for e in newest), reverse=True
        )
        first = (await client.get("/lists/rongcheng/blacklist.json?per_page=2")).json()
        second = (await client.get("/lists/rongcheng/blacklist.json?per_page=2&page=2")).json()
        assert (first["total"], first["pages"], len(first["entries"])) == (3, 2, 2)
        assert len(second["entries"]) == 1
        seen = {e["entry_id"] for e in first["entries"] + second["entries"]}
        assert seen == {e["entry_id"] for e in newest}
        html = Page((await client.get("/lists/rongcheng/blacklist?per_page=2")).text)
        assert any("page=2" in link for link in html.links)


async def test_the_masking_policy_is_a_setting(local_portal: Portal) -> None:
    ctx = local_portal.service.app.state.context
    policy = MaskingPolicy(person_id=PersonIdMask.HIDDEN, person_name=PersonNameMask.FULL)
    local_portal.service.app.state.context = replace(
        ctx, settings=ctx.settings.model_copy(update={"masking": policy})
    )
    async with local_portal.service.client() as client:
        listed = (await client.get("/lists/rongcheng/blacklist.json")).json()
        api = (await client.get("/v1/lists/rongcheng/blacklist")).json()
    assert {(e["subject"], e["name"]) for e in listed["entries"]} == {
        ("***", PERSON_NAME),
        ("***", OTHER_NAME),
    }
    assert listed["masking"]["person_id"] == "hidden"
    assert {e["subject"] for e in api["entries"]} == {"***"}


# ---------------------------------------------------------------- due process through the forms


async def test_object_decide_and_leave_the_list(portal: Portal) -> None:
    async with _signed_in(portal, "subject") as subject:
        csrf = form_token((await subject.get("/me")).text)
        empty = await subject.post(
            "/me/objections", data={"csrf": csrf, "record": "bank/d1", "reason": " "}
        )
        assert empty.status_code == 422
        assert "needs a reason" in Page(empty.text).text
        filed = await subject.post(
            "/me/objections",
            data={"csrf": csrf, "record": "bank/d1", "reason": "the loan was never mine"},
        )
        assert filed.headers["location"] == "/me?done=objection#objections"
        shown = await subject.get(filed.headers["location"])
        assert "Your objection is filed" in Page(shown.text).text
        mine = (await subject.get("/me.json")).json()
        assert mine["records"][0]["status"] == "disputed"
        [objection] = mine["objections"]
        assert (objection["status"], objection["deadline"]) == ("open", "2025-08-29")
    async with _signed_in(portal, "operator") as operator:
        queue = (await operator.get("/console/objections.json")).json()["objections"]
        assert [o["objection_id"] for o in queue] == [objection["objection_id"]]
        assert queue[0]["facts"]["code"] == "finance.contract_default"
        assert queue[0]["overdue"] is False
        csrf = form_token((await operator.get("/console/objections")).text)
        path = f"/console/objections/{objection['objection_id']}/decision"
        decided = await operator.post(
            path, data={"csrf": csrf, "decision": "uphold", "reason": "unverifiable"}
        )
        assert decided.status_code == 303
        again = await operator.post(
            path, data={"csrf": csrf, "decision": "reject", "reason": "second thoughts"}
        )
        assert again.status_code == 409
        assert "already upheld" in Page(again.text).text
    async with portal.service.client() as public:
        assert await _found(public) == ["李*"]
    async with _signed_in(portal, "subject") as subject:
        mine = (await subject.get("/me.json")).json()
        assert mine["records"][0]["status"] == "revoked"
        assert mine["objections"][0]["decision_reason"] == "unverifiable"
        assert "objection-upheld" in {n["kind"] for n in mine["notices"]}


async def test_overdue_objections_are_highlighted(local_portal: Portal) -> None:
    async with _signed_in(local_portal, "subject") as subject:
        csrf = form_token((await subject.get("/me")).text)
        await subject.post(
            "/me/objections", data={"csrf": csrf, "record": "bank/d1", "reason": "not mine"}
        )
    local_portal.service.clock.advance(31)
    async with _signed_in(local_portal, "operator") as operator:
        [item] = (await operator.get("/console/objections.json")).json()["objections"]
        assert (item["overdue"], item["days_left"]) == (True, -1)
        html = (await operator.get("/console/objections")).text
        assert 'class="queue-item overdue"' in html
        console = (await operator.get("/console.json")).json()
        assert console["queues"]["objections_overdue"] == 1


async def test_repair_through_the_forms(local_portal: Portal) -> None:
    async with _signed_in(local_portal, "subject") as subject:
        mine = (await subject.get("/me.json")).json()
        assert mine["repairable"] == ["bank/d1"]
        csrf = form_token((await subject.get("/me")).text)
        asked = await subject.post(
            "/me/repairs", data={"csrf": csrf, "record": "bank/d1", "reason": "repaid in full"}
        )
        assert asked.headers["location"] == "/me?done=repair#repairs"
    async with _signed_in(local_portal, "operator") as operator:
        [item] = (await operator.get("/console/repairs.json")).json()["repairs"]
        csrf = form_token((await operator.get("/console/repairs")).text)
        decided = await operator.post(
            f"/console/repairs/{item['repair_id']}/decision",
            data={"csrf": csrf, "decision": "approve", "reason": "repayment verified"},
        )
        assert decided.status_code == 303
    async with local_portal.service.client() as public:
        assert await _found(public) == ["李*"]


async def test_console_shows_the_ledger_and_relying_parties(portal: Portal) -> None:
    async with _signed_in(portal, "operator") as operator:
        data = (await operator.get("/console.json")).json()
        html = Page((await operator.get("/console")).text)
        verified = (await operator.get("/console/verify.json")).json()
    assert data["ledger"]["root"] in html.text
    assert [(p["name"], p["checks"]) for p in data["relying_parties"]] == [("airline", 1)]
    assert [(s["scheme_id"], s["active"]) for s in data["schemes"]] == [("rongcheng", True)]
    assert verified["ok"] is True, verified["problems"]
    assert (verified["size"], verified["root"]) == (data["ledger"]["size"], data["ledger"]["root"])
    assert verified["operations"] > 0  # the portal's keys, relying party and scheme at least
    with portal.service.engine.begin() as conn:  # a purpose rewritten behind the log's back
        conn.exec_driver_sql("UPDATE relying_parties SET purpose = 'anything'")
    async with _signed_in(portal, "operator") as operator:
        broken = (await operator.get("/console/verify.json")).json()
    assert broken["ok"] is False
    assert "edited behind the log's back" in broken["problems"][0]


async def test_console_lists_rejected_input_without_its_values(portal: Portal) -> None:
    async with portal.service.client() as source:
        sent = await source.post(
            "/v1/records",
            headers=portal.service.headers("source"),
            json={"records": [{"record_id": "r-bad", "subject_id": "110101SECRET-VALUE"}]},
        )
    assert sent.json()["rejected"]
    async with _signed_in(portal, "operator") as operator:
        data = (await operator.get("/console.json")).json()
        html = Page((await operator.get("/console")).text)
    newest = data["rejects"]["recent"][0]
    assert data["rejects"]["total"] >= 1
    assert (newest["source"], newest["line"]) == ("bank", 1)
    assert newest["origin"] == "api source bank"
    assert newest["field"] in html.text
    assert "SECRET-VALUE" not in html.text  # rejected values are never shown or stored
    assert "SECRET-VALUE" not in str(data)


def test_existing_list_entries_get_public_ids(tmp_path: Path) -> None:
    """Migration 0006 gives every list entry made before it a distinct random id."""
    from alembic import command

    from xinyong.ledger.database import _alembic_config, open_database

    engine = open_database(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        for subject in ("a", "b"):
            conn.exec_driver_sql(
                "INSERT INTO listings (scheme_id, list_id, subject_id, listed_on, noticed_at, "
                f"public_from) VALUES ('s', 'l', '{subject}', '2025-01-01', 'x', '2025-02-01')"
            )
    engine.dispose()
    engine = open_database(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT entry_id FROM listings"))]
    engine.dispose()
    assert len(ids) == 2
    assert len(set(ids)) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


# ---------------------------------------------------------------- review fixes (issue 5)


async def test_a_refused_form_links_the_twin_of_the_page_it_shows(local_portal: Portal) -> None:
    async with _signed_in(local_portal, "subject") as subject:
        csrf = form_token((await subject.get("/me")).text)
        refused = await subject.post(
            "/me/objections", data={"csrf": csrf, "record": "bank/d1", "reason": " "}
        )
        assert refused.status_code == 422
        links = Page(refused.text).links
        assert "/me.json" in links
        assert not any("/me/objections.json" in link for link in links)
        assert (await subject.get("/me.json")).status_code == 200
        forged = await subject.post("/me/repairs", data={"csrf": "forged", "record": "bank/d1"})
        assert forged.status_code == 403  # an error page for a form: no twin to link
        assert not any(link.endswith(".json") for link in Page(forged.text).links)
    async with _signed_in(local_portal, "operator") as operator:
        csrf = form_token((await operator.get("/console/repairs")).text)
        missing = await operator.post(
            "/console/repairs/nope/decision",
            data={"csrf": csrf, "decision": "approve", "reason": "x"},
        )
        assert missing.status_code == 409
        assert "/console/repairs.json" in Page(missing.text).links


async def test_signing_in_again_closes_the_previous_session(local_portal: Portal) -> None:
    async with local_portal.service.client() as client:
        await sign_in(client, local_portal.tokens["subject"])
        first = client.cookies[SESSION_COOKIE]
        page = (await client.get("/login")).text
        assert "Signing in again replaces that session" in page
        await sign_in(client, local_portal.tokens["other-subject"])
        second = client.cookies[SESSION_COOKIE]
        assert second != first
        assert (await client.get("/me.json")).json()["subject"]["id"] == OTHER
        client.cookies.set(SESSION_COOKIE, first)
        assert (await client.get("/me.json")).status_code == 401


GRADED = "graded"
THIRD = synthetic_resident_id(9, date(1987, 7, 7), 9)


def _list_a_third_person_by_grade(portal: Portal) -> None:
    """A second scheme whose black list admits by grade only, and a third person graded D there
    by three court judgments (-150), with a volunteer service (+5) that counts for them."""
    service = portal.service
    ctx = service.app.state.context
    text = SCHEME.read_text(encoding="utf-8").replace('id = "rongcheng"', f'id = "{GRADED}"')
    text = text.replace('rules = ["contract-default", "court"]\n', "")
    # a measure belongs to one active scheme: this one's is its own
    text = text.replace('id = "restrict-flights"', 'id = "graded-restrict-flights"')
    with service.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        add_overridden(conn, parse_scheme(text))
    ctx.registry.invalidate()
    rows: list[dict[str, Any]] = [
        {
            "record_id": f"t{n}",
            "subject_id": THIRD,
            "subject_kind": "person",
            "code": "court.breach_judgment",
            "occurred_at": f"2025-0{n + 4}-01",
            "case_id": f"case-t{n}",
            "attrs": {},
        }
        for n in range(3)
    ]
    rows.append(
        {
            "record_id": "t-good",
            "subject_id": THIRD,
            "subject_kind": "person",
            "code": "civic.volunteer_service",
            "occurred_at": "2025-07-01",
            "attrs": {},
        }
    )
    today = service.clock()
    report = ingest_rows(service.engine, rows, ctx.catalog, source="court", today=today)
    assert report.accepted == len(rows), report.rejects
    after_changes(ctx, [THIRD])


def _entry_id(portal: Portal, scheme: str) -> str:
    with portal.service.engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT entry_id FROM listings WHERE scheme_id = :s AND subject_id = :p"),
            {"s": scheme, "p": THIRD},
        ).scalar_one()
    return str(found)


async def test_an_entry_in_its_grace_period_is_hidden_from_every_public_page(
    local_portal: Portal,
) -> None:
    _list_a_third_person_by_grade(local_portal)
    hidden = _entry_id(local_portal, GRADED)
    async with local_portal.service.client() as public:
        for path in (f"/lists/{GRADED}/blacklist", "/lists/rongcheng/blacklist", "/"):
            for shown in (path, json_of(path)):
                text = (await public.get(shown)).text
                assert hidden not in text, shown
                assert THIRD[:6] + "*" * 11 + THIRD[-1] not in text, shown
        listed = (await public.get(f"/lists/{GRADED}/blacklist.json")).json()
        assert listed["total"] == 0
        # ... but the list says that one entry waits, and until when
        grace = local_portal.service.app.state.context.settings.grace_days
        public_on = local_portal.service.clock() + timedelta(days=grace)
        assert listed["awaiting"] == {"entries": 1, "first_public_on": public_on.isoformat()}
        page = (await public.get(f"/lists/{GRADED}/blacklist")).text
        assert "1 more entry is still in its notice period" in page
        assert public_on.isoformat() in page
        home = (await public.get("/index.json")).json()
        graded = next(s for s in home["schemes"] if s["scheme"] == GRADED)
        assert graded["lists"][0]["entries"] == 0
        entry = f"/lists/{GRADED}/blacklist/{hidden}"
        assert (await public.get(entry)).status_code == 404
        assert (await public.get(json_of(entry))).status_code == 404
        local_portal.service.clock.advance(
            local_portal.service.app.state.context.settings.grace_days
        )
        assert (await public.get(json_of(entry))).status_code == 200
        published = (await public.get(f"/lists/{GRADED}/blacklist.json")).json()
        assert published["total"] == 1
        assert published["awaiting"] == {"entries": 0, "first_public_on": None}
        # a synthetic identity (region 00) is labelled as demo data wherever it is listed
        assert published["entries"][0]["demo"] is True


async def test_an_entry_by_grade_publishes_only_what_counts_against_the_subject(
    local_portal: Portal,
) -> None:
    _list_a_third_person_by_grade(local_portal)
    local_portal.service.clock.advance(local_portal.service.app.state.context.settings.grace_days)
    entry = f"/lists/{GRADED}/blacklist/{_entry_id(local_portal, GRADED)}"
    async with local_portal.service.client() as public:
        data = (await public.get(json_of(entry))).json()
        page = Page((await public.get(entry)).text)
    assert (data["grade"], data["by_grade"]) == ("D", True)
    # 1000 - 3 * 50 + 5 = 855: D. The three judgments are the reason; the volunteer service,
    # which counted for the subject, is not published.
    assert [(r["code"], r["points"]) for r in data["reasons"]] == [
        ("court.breach_judgment", -50)
    ] * 3
    assert "civic.volunteer_service" not in page.text
    assert "count against the score" in page.text


async def test_one_search_finds_a_person_on_every_public_list(local_portal: Portal) -> None:
    async with local_portal.service.client() as public:
        found = (await public.get("/search.json", params={"q": OTHER_NAME})).json()
        assert [(f["scheme"], f["list"], f["total"]) for f in found["lists"]] == [
            ("rongcheng", "blacklist", 1)
        ]
        [entry] = found["lists"][0]["entries"]
        assert entry["subject"] != OTHER
        assert entry["name"] == "李*"
        by_id = (await public.get("/search.json", params={"q": OTHER})).json()
        assert by_id["lists"][0]["entries"][0]["entry_id"] == entry["entry_id"]
        assert (await public.get("/search.json", params={"q": "李"})).json()["lists"]  # shown part
        nobody = (await public.get("/search.json", params={"q": "张三丰"})).json()
        assert nobody["lists"] == []
        page = (await public.get("/search", params={"q": "张三丰"})).text
        assert "No public entry matches “张三丰”." in page
        assert (await public.get("/search.json")).json()["lists"] == []  # no query, no answer


async def test_a_list_downloads_as_csv_masked_and_narrowed_as_the_page(
    local_portal: Portal,
) -> None:
    async with local_portal.service.client() as public:
        answer = await public.get("/lists/rongcheng/blacklist.csv")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in answer.headers["content-disposition"]
        assert answer.content.startswith("\ufeff".encode())  # spreadsheets read it as UTF-8
        rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
        assert rows[0] == list(CSV_COLUMNS)
        assert len(rows) == 3
        shown = "\n".join(",".join(r) for r in rows)
        for secret in (PERSON, OTHER, PERSON_NAME, OTHER_NAME):
            assert secret not in shown  # the CSV masks as the page does
        page = (await public.get("/lists/rongcheng/blacklist")).text
        assert 'href="/lists/rongcheng/blacklist.csv?' in page
        none = await public.get("/lists/rongcheng/blacklist.csv", params={"kind": "organization"})
        assert len(list(csv.reader(io.StringIO(none.text.lstrip("\ufeff"))))) == 1


async def test_a_list_is_narrowed_by_kind_and_year_with_counts(local_portal: Portal) -> None:
    async with local_portal.service.client() as public:
        listed = (await public.get("/lists/rongcheng/blacklist.json")).json()
        assert listed["facets"]["kind"] == {"person": 2}
        assert sum(listed["facets"]["year"].values()) == 2
        listed_year = next(iter(listed["facets"]["year"]))
        narrowed = {
            "?kind=person": 2,
            "?kind=organization": 0,
            "?kind=": 2,  # the form's "all"
            f"?year={listed_year}": 2,
            "?year=1990": 0,
            "?year=": 2,
            "?order=kind": 2,
            "?order=public-oldest": 2,
            "?order=name": 2,
            "?order=identifier-desc": 2,
        }
        for query, total in narrowed.items():
            answer = await public.get(f"/lists/rongcheng/blacklist.json{query}")
            assert answer.status_code == 200, (query, answer.text)
            assert answer.json()["total"] == total, query
        for refused in ("?order=given-name", "?order=birth-date", "?kind=alien", "?year=abc"):
            answer = await public.get(f"/lists/rongcheng/blacklist.json{refused}")
            assert answer.status_code == 422, refused


async def test_the_file_opens_with_a_summary_and_points_at_the_records_that_count(
    local_portal: Portal,
) -> None:
    """The consumer-report pattern: what matters first; the objection form on the records that
    count against the subject; "repair from" a past date said as "now"."""
    async with _signed_in(local_portal, "subject") as client:
        data = (await client.get("/me.json")).json()
        page = (await client.get("/me")).text
    summary = data["summary"]
    assert [(x["scheme"], x["list"]) for x in summary["lists"]] == [("rongcheng", "blacklist")]
    assert summary["records_against"]
    counting = {r["record"] for r in data["records"] if r["status"] == "counting"}
    assert set(summary["records_against"]) <= counting
    assert summary["checks"] == 1  # the airline's, within the last 90 days
    assert summary["open_requests"] == {"objections": 0, "repairs": 0, "reviews": 0, "appeals": 0}
    for sanction in summary["sanctions"]:
        assert sanction["kind"] == "sanction"
    # the summary comes before every other section
    assert page.index('id="summary"') < page.index('id="standing"') < page.index('id="records"')
    select = page[page.index('id="objection-record"') :]
    first = re.search(r'<option value="([^"]+)" selected>', select)
    assert first is not None
    assert first.group(1) == summary["records_against"][0]
    today = data["as_of"]
    past = [r for r in data["records"] if r["repair_from"] and r["repair_from"] <= today]
    assert past  # the seeded records are past their minimum display period
    assert ">now</td>" in page
    for record in past:
        assert f">{record['repair_from']}</td>" not in page


async def test_the_costly_public_pages_are_rate_limited(local_portal: Portal) -> None:
    """A search of every list and a list's CSV cost work: limited per caller, as the API's
    costly public routes are; the list page itself is not."""
    app = local_portal.service.app
    async with local_portal.service.client() as public:
        for path in ("/search.json?q=李四", "/lists/rongcheng/blacklist.csv"):
            # one token each: the first answered, the next refused
            app.state.context = replace(
                app.state.context, buckets=TokenBuckets(rate=0.001, burst=1)
            )
            assert (await public.get(path)).status_code == 200
            refused = await public.get(path)
            assert refused.status_code == 429, path
        page = await public.get("/search?q=李四")
        assert page.status_code == 429
        assert "Too many requests" in page.text
        assert (await public.get("/lists/rongcheng/blacklist")).status_code == 200


def test_a_csv_cell_never_starts_a_formula() -> None:
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", " =1", "\u00a0=1", "＝1", "＋1", "\n=1"):
        assert _cell(value).startswith("'"), value
    for value in ("李*", "000009***********8", "2025-06-30", "a=b"):
        assert _cell(value) == value
