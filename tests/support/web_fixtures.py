"""A seeded portal: two listed people with names, records, a check; helpers to sign in.

Shared by the in-process page tests (``test_web.py``) and the browser tests
(``test_web_browser.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.service_fixtures import OTHER, PERSON, START, Service, make_service
from xinyong.application.changes import after_changes
from xinyong.decisions.checks import check_measure
from xinyong.ingest.records import ingest_rows
from xinyong.ingest.subjects import load_subjects
from xinyong.ledger.database import WRITE_LOCK

PERSON_NAME = "王小明"
OTHER_NAME = "李四"
RECORDS = [
    {
        "record_id": "d1",
        "subject_id": PERSON,
        "subject_kind": "person",
        "code": "finance.contract_default",
        "occurred_at": "2025-03-01",
        "case_id": "loan-1",
        "attrs": {"amount": 20000, "channel": "branch"},
    },
    {
        "record_id": "v1",
        "subject_id": PERSON,
        "subject_kind": "person",
        "code": "civic.volunteer_service",
        "occurred_at": "2025-04-01",
        "attrs": {},
    },
    {
        "record_id": "j1",
        "subject_id": OTHER,
        "subject_kind": "person",
        "code": "court.breach_judgment",
        "occurred_at": "2025-05-01",
        "case_id": "case-9",
        "attrs": {},
    },
]
_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Portal:
    """The seeded service; both people are on the public black list."""

    service: Service

    @property
    def tokens(self) -> dict[str, str]:
        return self.service.tokens


def seed_portal(url: str, tmp_path: Path) -> Portal:
    """The example scheme, two named people listed by their records, one check made, and the
    grace period over."""
    service = make_service(url)
    people = tmp_path / "people.csv"
    people.write_text(
        f"subject_id,kind,display_name\n{PERSON},person,{PERSON_NAME}\n{OTHER},person,{OTHER_NAME}\n",
        encoding="utf-8",
    )
    assert load_subjects(service.engine, people).rejected == 0
    ctx = service.app.state.context
    report = ingest_rows(service.engine, RECORDS, ctx.catalog, source="bank", today=START)
    assert report.accepted == len(RECORDS), report.rejects
    after_changes(ctx, [PERSON, OTHER])  # lists both, with notices; public after the grace
    with service.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        check_measure(conn, ctx.registry, "airline", PERSON, "restrict-flights", START, ctx.catalog)
    service.clock.advance(ctx.settings.grace_days)
    return Portal(service)


def form_token(html: str) -> str:
    """The CSRF token of the first form on a signed-in page."""
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Sign in through the form as a browser would (the login page's cookie and token)."""
    page = await client.get("/login")
    found = _TOKEN.search(page.text)
    assert found
    return await client.post(
        "/login", data={"token": token, "login_token": found.group(1), "next": ""}
    )
