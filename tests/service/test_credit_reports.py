"""Credit reports that prove themselves (issue 19, item 6): the subject's file and an
organisation's public report as self-contained HTML, checked offline by ``xinyong verify report``
and, for the signatures and proofs, by the independent verifier (tests/support/rfc6962.py)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from tests.support import rfc6962
from tests.support.service_fixtures import DEFAULT, PERSON, Service
from xinyong.application.credit_report import REPORT_HEADER, payload_text
from xinyong.application.settings import ServiceSettings
from xinyong.cli.app import app
from xinyong.documents.credit_report import read_report, render_report
from xinyong.domain.identifiers import synthetic_uscc
from xinyong.ingest.subjects import load_subjects
from xinyong.ledger.database import WRITE_LOCK
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.ledger.signed_head import ledger_key
from xinyong.server.app import create_app

pytestmark = pytest.mark.anyio

ORG = synthetic_uscc(9, 41)
ORG2 = synthetic_uscc(9, 42)
PENALTY = {
    "record_id": "p1",
    "subject_id": ORG,
    "subject_kind": "organization",
    "code": "market.admin_penalty",
    "occurred_at": "2025-04-01",
    "case_id": "SAMR-2025-1",
    "attrs": {"amount": 5000},
}


async def _submit(client: httpx.AsyncClient, service: Service, *records: dict[str, Any]) -> None:
    sent = await client.post(
        "/v1/records", headers=service.headers("source"), json={"records": list(records)}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == len(records), sent.text


def _verify(tmp_path: Path, page: str, key: str) -> tuple[int, str]:
    (tmp_path / "ledger.pub").write_text(key, encoding="utf-8")
    (tmp_path / "report.html").write_text(page, encoding="utf-8")
    done = CliRunner().invoke(
        app,
        ["verify", "report", str(tmp_path / "report.html"), "--key", str(tmp_path / "ledger.pub")],
    )
    return done.exit_code, done.output


def _independently(page: str, key: str) -> dict[str, Any]:
    """The report's statement, checkpoint and every proof, checked by the independent verifier;
    the payload."""
    found = re.search(r'id="xinyong-report">([^<]*)</script>', page)
    assert found is not None
    payload_text = found.group(1)
    statement = page[page.index('id="xinyong-report-statement">\n') :].split("\n", 1)[1]
    statement = statement[: statement.index("</script>")]
    header, line, _ = rfc6962.open_note(statement, key).split("\n")
    assert header == "xinyong-report/v1"
    stated = json.loads(line)
    assert stated["digest"] == "sha256:" + hashlib.sha256(payload_text.encode()).hexdigest()
    payload = json.loads(payload_text)
    _, size, root = rfc6962.open_checkpoint(payload["checkpoint"], key)
    assert stated["checkpoint"] == {"size": size, "root": root.hex()}
    for entry in payload["entries"]:
        nodes = [bytes.fromhex(h) for h in entry["proof"]]
        leaf = bytes.fromhex(entry["leaf_hash"])
        assert rfc6962.verify_inclusion(leaf, entry["position"], size, nodes, root)
    return dict(payload)


async def _file_with_history(client: httpx.AsyncClient, service: Service) -> dict[str, Any]:
    """Two records about PERSON, a check that applies, and the second record revoked by an
    upheld objection; the check's answer."""
    second = {**DEFAULT, "record_id": "d2", "case_id": "loan-2", "occurred_at": "2025-04-01"}
    await _submit(client, service, DEFAULT, second)
    check = await client.get(
        "/v1/checks",
        params={"subject": PERSON, "measure": "restrict-flights"},
        headers=service.headers("relying"),
    )
    assert check.status_code == 200, check.text
    filed = await client.post(
        "/v1/me/objections",
        headers=service.headers("subject"),
        json={"source": "bank", "record_id": "d2", "reason": "Not my loan."},
    )
    assert filed.status_code == 201, filed.text
    decided = await client.post(
        f"/v1/objections/{filed.json()['objection_id']}/decision",
        headers=service.headers("operator"),
        json={"accept": True, "reason": "The bank confirmed the mistake."},
    )
    assert decided.status_code == 200, decided.text
    return dict(check.json())


async def test_a_subject_downloads_a_report_that_proves_itself(
    service: Service, tmp_path: Path
) -> None:
    async with service.client() as client:
        key = (await client.get("/v1/ledger/public-key")).text
        check = await _file_with_history(client, service)
        got = await client.get("/v1/me/report", headers=service.headers("subject"))
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith("text/html")
        assert got.headers["content-disposition"].startswith("attachment;")
        assert PERSON not in got.headers["content-disposition"]
        assert got.headers["cache-control"] == "no-store"
        # nobody else gets it: another role is refused, no key is 401
        for role in ("relying", "source", "operator"):
            refused = await client.get("/v1/me/report", headers=service.headers(role))
            assert refused.status_code == 403, role
        assert (await client.get("/v1/me/report")).status_code == 401
    page = got.text
    payload = _independently(page, key)
    file = payload["file"]
    assert {r["record"]: r["status"] for r in file["records"]} == {
        "bank/d1": "counting",
        "bank/d2": "revoked",
    }
    assert [c["decision_id"] for c in file["checks"]] == [check["decision_id"]]
    assert file["checks"][0]["receipt"] == check["receipt"]  # what the airline got
    async with service.client() as client:
        logged_key = (await client.get("/v1/ledger/inquiries/public-key")).text
    _check_in_inquiry_log(payload, logged_key, key)
    tables = sorted(e["table"] for e in payload["entries"])
    assert tables.count("records") == 2
    assert tables.count("events") >= 1
    code, output = _verify(tmp_path, page, key)
    assert code == 0, output
    assert "VALID: subject report" in output
    assert "1 checks, each with a valid receipt" in output

    # the visible page: the listing and the check, and how to verify
    assert "counting" in page
    assert "airline" in page
    assert "xinyong verify report" in page
    # editing what the page shows, or its data, or signing with another key: refused
    edited = page.replace(">airline<", ">a hotel<", 1)
    assert edited != page
    assert _verify(tmp_path, edited, key)[0] == 1
    assert "its text was changed" in _verify(tmp_path, edited, key)[1]
    forged = page.replace('"status":"counting"', '"status":"expired"', 1)
    assert forged != page
    code, output = _verify(tmp_path, page.replace("\n", "\r\n"), key)
    assert code == 1, "a page whose line ends were changed is not the page that was signed"
    code, output = _verify(tmp_path, forged, key)
    assert code == 1
    assert "not the data its statement signs" in output
    with service.engine.connect() as conn:
        stranger = ledger_key(conn, tmp_path / "stranger.key", key.split("+")[0])
    resigned = page.replace(
        read_report(page)[1],
        stranger.sign(read_report(page)[1][: read_report(page)[1].index("\n\n") + 1]),
    )
    code, output = _verify(tmp_path, resigned, key)
    assert code == 1
    assert "no signature by" in output


def _check_in_inquiry_log(payload: dict[str, Any], logged_key: str, key: str) -> None:
    """Each check's entry in the inquiry log, checked here without xinyong's code: the log's
    signed checkpoint (the ledger's key under the log's origin), the leaf from the columns, the
    inclusion proof, and the same decision."""
    origin, size, root = rfc6962.open_checkpoint(payload["inquiry_checkpoint"], logged_key)
    assert origin == key.split("+", maxsplit=1)[0] + "/inquiries"
    for check in payload["file"]["checks"]:
        entry = check["inquiry"]
        values = entry["values"]
        assert values[-1] is not None  # the notice's hash, or "" for none (None: before 0018)
        data = json.dumps(
            ["xinyong-ledger/1", "inquiry", entry["position"], *values],
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        leaf = hashlib.sha256(b"\x00" + data).digest()
        assert leaf.hex() == entry["leaf_hash"]
        nodes = [bytes.fromhex(h) for h in entry["proof"]]
        assert rfc6962.verify_inclusion(leaf, entry["position"], size, nodes, root)
        assert entry["values"][0] == check["decision_id"]


def _resealed(page: str, key_path: Path, change: Any, service: Service) -> str:
    """The report with its payload changed by ``change`` and signed again with the ledger's
    own key: what a service that misreports would hand out. Only the proofs can catch it."""
    payload_text_now, _ = read_report(page)
    payload = orjson.loads(payload_text_now)
    change(payload)
    text = payload_text(payload)
    with service.engine.connect() as conn:
        key = ledger_key(conn)
    stated = json.loads(
        next(line for line in read_report(page)[1].split("\n") if line.startswith("{"))
    )
    stated["digest"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    line = orjson.dumps(stated, option=orjson.OPT_SORT_KEYS).decode()
    return render_report(text, key.sign(f"{REPORT_HEADER}\n{line}\n"))


def _first(payload: dict[str, Any], table: str) -> dict[str, Any]:
    return next(e for e in payload["entries"] if e["table"] == table)


def _drop_event(payload: dict[str, Any]) -> None:
    for record in payload["file"]["records"]:
        record["events"] = []


def _other_code(payload: dict[str, Any]) -> None:
    payload["file"]["records"][0]["code"] = "finance.repaid"


def _edit_entry(payload: dict[str, Any]) -> None:
    entry = _first(payload, "records")
    entry["values"][4] = "finance.repaid"


def _edit_entry_and_leaf(payload: dict[str, Any]) -> None:
    from xinyong.ledger.entries import entry_hash

    entry = _first(payload, "records")
    entry["values"][4] = "finance.repaid"
    entry["leaf_hash"] = entry_hash("records", entry["position"], entry["values"]).hex()


def _drop_entry(payload: dict[str, Any]) -> None:
    payload["entries"] = [e for e in payload["entries"] if e["table"] != "records"]


def _drop_receipt(payload: dict[str, Any]) -> None:
    payload["file"]["checks"][0]["receipt"] = None


def _other_answer(payload: dict[str, Any]) -> None:
    payload["file"]["checks"][0]["applies"] = False


def _other_time(payload: dict[str, Any]) -> None:
    """The time of a check is not in its receipt: its entry in the inquiry log proves it."""
    payload["file"]["checks"][0]["made_at"] = "2020-01-01T00:00:00.000000Z"


def _drop_inquiry(payload: dict[str, Any]) -> None:
    del payload["file"]["checks"][0]["inquiry"]


def _edit_inquiry_and_leaf(payload: dict[str, Any]) -> None:
    from xinyong.ledger.entries import entry_hash

    entry = payload["file"]["checks"][0]["inquiry"]
    entry["values"][9] = "2020-01-01T00:00:00.000000Z"
    entry["leaf_hash"] = entry_hash("inquiries", entry["position"], entry["values"]).hex()
    payload["file"]["checks"][0]["made_at"] = entry["values"][9]


def _other_name(payload: dict[str, Any]) -> None:
    payload["file"]["subject"]["name"] = "Someone Else"


def _record_twice(payload: dict[str, Any]) -> None:
    payload["file"]["records"] *= 2


def _check_twice(payload: dict[str, Any]) -> None:
    payload["file"]["checks"] *= 2


def _fake_rating(payload: dict[str, Any]) -> None:
    """A made-up record passed off as a rating (shown without entry) about someone else."""
    fake = {**payload["file"]["records"][0], "code": "peer.rating", "record": "bank/fake"}
    payload["file"]["records"].append({**fake, "about": "someone-else", "case_id": None})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_drop_event, "the events shown are not the entries on it"),
        (_other_code, "the code shown is not the entry's"),
        (_edit_entry, "does not hash to its leaf hash"),
        (_edit_entry_and_leaf, "is not in the checkpoint's tree"),
        (_drop_entry, "is shown without its entry"),
        (_drop_receipt, "receipt"),
        (_other_answer, "applies is not the receipt's"),
        (_other_time, "is not the check its entry logs"),
        (_drop_inquiry, "entry in the inquiry log is not an object"),
        (_edit_inquiry_and_leaf, "is not in the inquiry log's tree"),
        (_other_name, "not the registered name"),
        (_record_twice, "is shown twice"),
        (_check_twice, "is shown twice"),
        (_fake_rating, "is shown as a rating without its entry"),
    ],
)
async def test_a_report_the_service_misstates_fails_even_when_signed(
    service: Service, tmp_path: Path, change: Any, reason: str
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(f"subject_id,kind,display_name\n{PERSON},person,Wang Fang\n")
    assert load_subjects(service.engine, people).rejected == 0
    async with service.client() as client:
        key = (await client.get("/v1/ledger/public-key")).text
        await _file_with_history(client, service)
        page = (await client.get("/v1/me/report", headers=service.headers("subject"))).text
    assert _verify(tmp_path, page, key)[0] == 0
    assert _verify(tmp_path, _resealed(page, tmp_path, lambda p: None, service), key)[0] == 0
    code, output = _verify(tmp_path, _resealed(page, tmp_path, change, service), key)
    assert code == 1, output
    assert reason in output


async def test_an_organisations_public_report_shows_only_what_the_law_publishes(
    service: Service, tmp_path: Path
) -> None:
    service.clock.day = date.today()  # records are recorded at the wall clock's date
    penalty = {**PENALTY, "occurred_at": (date.today() - timedelta(days=20)).isoformat()}
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(
        f"subject_id,kind,display_name\n{ORG},organization,Jasmine Tea Co.\n"
        f"{ORG2},organization,Egret Ferries Ltd.\n"
    )
    theirs = {**penalty, "record_id": "q1", "subject_id": ORG2, "case_id": "SAMR-2025-9"}
    assert load_subjects(service.engine, orgs).rejected == 0
    private = {**penalty, "record_id": "p2", "code": "finance.contract_default", "attrs": {}}
    revoked = {**penalty, "record_id": "p3", "case_id": "SAMR-2025-3"}
    commitment = {
        **penalty,
        "record_id": "c1",
        "code": "commitment.made",
        "case_id": "CM-1",
        "attrs": {},
    }
    async with service.client() as client:
        key = (await client.get("/v1/ledger/public-key")).text
        await _submit(client, service, penalty, private, revoked, commitment, theirs)
        # within the notice period nothing is public yet
        early = await client.get(f"/v1/organizations/{ORG}/report")
        assert early.status_code == 200, early.text
        assert json.loads(read_report(early.text)[0])["records"] == []
        service.clock.advance(31)
        with service.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_event(
                conn,
                EventType.REVOKED,
                "bank",
                "p3",
                effective_on=service.clock.day,
                actor="operator",
                reason="The penalty was annulled.",
            )
        got = await client.get(f"/v1/organizations/{ORG.lower()}/report")  # any spelling
        assert got.status_code == 200, got.text
        other = await client.get(f"/v1/organizations/{ORG2}/report")
        for bad, status in (("not-a-uscc!", 422), (PERSON, 422), (synthetic_uscc(9, 43), 404)):
            refused = await client.get(f"/v1/organizations/{bad}/report")
            assert refused.status_code == status, (bad, refused.text)
    payload = _independently(got.text, key)
    assert payload["organization"] == {"id": ORG, "name": "Jasmine Tea Co.", "kind": "organization"}
    shown = {r["record"]: r for r in payload["records"]}
    assert set(shown) == {"bank/p1", "bank/c1"}  # not the bank's loan, not the revoked penalty
    assert shown["bank/p1"]["publicity"].startswith("Administrative Penalty Law")
    for private_key in ("checks", "notices", "objections", "file", "standings"):
        assert private_key not in payload
    code, output = _verify(tmp_path, got.text, key)
    assert code == 0, output
    assert "VALID: organization report" in output
    assert "Credit commitments" in got.text
    assert "SAMR-2025-1" in got.text
    assert ORG in got.headers["content-disposition"]

    # another organisation's proven record, passed off as this one's, fails even when signed
    theirs_payload = json.loads(read_report(other.text)[0])

    def borrow(payload: dict[str, Any]) -> None:
        payload["records"].append(theirs_payload["records"][0])
        payload["entries"] += [e for e in theirs_payload["entries"] if e["table"] == "records"]

    code, output = _verify(tmp_path, _resealed(got.text, tmp_path, borrow, service), key)
    assert code == 1
    assert "is not about the organisation" in output


async def test_the_portal_and_the_cli_give_the_same_report(
    service: Service, tmp_path: Path
) -> None:
    async with service.client() as client:
        await _submit(client, service, DEFAULT)
        api = (await client.get("/v1/me/report", headers=service.headers("subject"))).text
        other = await client.get("/v1/me/report", headers=service.headers("other-subject"))
    assert other.status_code == 404  # nothing about them
    url = service.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "cli.html"
    done = CliRunner().invoke(
        app, ["report", "subject", PERSON.lower(), "--db", url, "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    cli_payload = json.loads(read_report(out.read_text(encoding="utf-8"))[0])
    api_payload = json.loads(read_report(api)[0])
    assert cli_payload["entries"] == api_payload["entries"]
    assert [r["record"] for r in cli_payload["file"]["records"]] == ["bank/d1"]
    assert [r["record"] for r in api_payload["file"]["records"]] == ["bank/d1"]
    refused = CliRunner().invoke(app, ["report", "subject", "bad id!", "--db", url])
    assert refused.exit_code == 2
    assert "not an identifier" in refused.output


async def test_the_public_report_is_rate_limited_per_client(service: Service) -> None:
    """Building a report reads the file and computes proofs: an anonymous caller gets the
    service's burst, then 429 with Retry-After."""
    limited = create_app(service.engine, settings=ServiceSettings(burst=2, rate_per_second=0.01))
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://xinyong.test") as client:
        answers = [
            (await client.get(f"/v1/organizations/{ORG}/report")).status_code for _ in range(3)
        ]
        last = await client.get(f"/v1/organizations/{ORG}/report")
    assert answers[:2] == [404, 404]  # an unknown organisation, but asked for all the same
    assert answers[2] == 429
    assert int(last.headers["retry-after"]) >= 1
