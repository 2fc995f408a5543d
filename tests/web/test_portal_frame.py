"""What frames every page of the portal: the code catalog's text in the page's language, a
guardrail finding's title translated beside its message as recorded, the error page for an
address nothing answers (the API's and the twins' stay JSON), the icon, and the language kept on
the way to the sign-in page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.pages import Page
from tests.support.web_fixtures import Portal, seed_portal
from xinyong.i18n import data_text, gettext_for
from xinyong.schemes.overrides import GUARDRAILS
from xinyong.web.i18n import LANG_COOKIE
from xinyong.web.templates import environment

pytestmark = pytest.mark.anyio

DEFAULT_ON_LOAN = "Default on a loan or credit contract"
"""A description of the bundled code catalog (``finance.contract_default``)."""


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """One seeded portal for the module: the tests only read."""
    tmp_path = tmp_path_factory.mktemp("portal")
    seeded = seed_portal(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    yield seeded
    seeded.service.engine.dispose()


@pytest.fixture
async def client(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    async with portal.service.client() as made:
        yield made


def test_data_text_translates_what_a_catalog_has_and_keeps_the_rest() -> None:
    chinese = data_text(DEFAULT_ON_LOAN, "zh")
    assert chinese != DEFAULT_ON_LOAN
    assert chinese == gettext_for("zh")(DEFAULT_ON_LOAN)
    assert data_text(DEFAULT_ON_LOAN, "en") == DEFAULT_ON_LOAN
    assert data_text("A deployment's own description", "zh") == "A deployment's own description"
    assert data_text("", "zh") == ""  # never the catalog's header
    assert environment("zh").from_string("[{{ ''|tr }}]{{ d|tr }}").render(d=DEFAULT_ON_LOAN) == (
        f"[]{chinese}"
    )


async def test_a_records_description_and_legal_basis_read_in_chinese(
    client: httpx.AsyncClient,
) -> None:
    listed = (await client.get("/lists/rongcheng/blacklist.json")).json()
    path = f"/lists/rongcheng/blacklist/{listed['entries'][0]['entry_id']}"
    twin = (await client.get(f"{path}.json")).json()  # data: as the catalog has it
    reason = next(r for r in twin["reasons"] if r["description"] and r["legal_basis"])
    html = (await client.get(path, params={"lang": "zh"})).text
    assert data_text(reason["description"], "zh") in Page(html).text
    assert data_text(reason["legal_basis"], "zh") in Page(html).text
    assert reason["description"] not in html
    assert reason["legal_basis"] not in html
    scheme = (await client.get("/schemes/rongcheng", params={"lang": "zh"})).text
    assert DEFAULT_ON_LOAN not in scheme
    assert data_text(DEFAULT_ON_LOAN, "zh") in scheme
    assert DEFAULT_ON_LOAN in str((await client.get("/schemes/rongcheng.json")).json()["rules"])


async def test_a_guardrail_finding_has_its_title_and_its_message_as_recorded(
    client: httpx.AsyncClient,
) -> None:
    twin = (await client.get("/schemes/rongcheng.json")).json()
    [override] = twin["overrides"]
    check = override["finding"].partition("@")[0]
    assert override["title"] == GUARDRAILS[check]
    report = (await client.get("/transparency.json")).json()["report"]
    assert [o["title"] for o in report["overrides"]] == [GUARDRAILS[check]]
    for path in ("/schemes/rongcheng", "/transparency"):
        html = (await client.get(path, params={"lang": "zh"})).text
        assert f"<strong>{gettext_for('zh')(GUARDRAILS[check])}</strong>" in html
        assert f'<span lang="en">{override["message"]}</span>' in html
        english = (await client.get(path, params={"lang": "en"})).text
        assert f"<strong>{GUARDRAILS[check]}</strong>" in english
        assert f'<span lang="en">{override["message"]}' not in english  # English already


async def test_an_unknown_address_is_the_portals_error_page_outside_the_api(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no-such-page", params={"lang": "zh"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == "zh-Hans"
    assert gettext_for("zh")("There is no page at this address.") in page.text
    client.cookies.set(LANG_COOKIE, "en")
    assert "There is no page at this address." in (await client.post("/nowhere")).text
    for path in ("/v1/no-such-route", "/v1", "/no-such-page.json", "/lists/x/y/z/w.json"):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json", path


async def test_the_icon_is_named_by_every_page_and_found_where_browsers_look(
    client: httpx.AsyncClient,
) -> None:
    home = (await client.get("/")).text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in home
    icon = await client.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert "<text" not in icon.text  # drawn, not set in a font the machine may lack
    moved = await client.get("/favicon.ico")
    assert (moved.status_code, moved.headers["location"]) == (301, "/static/favicon.svg")


async def test_the_way_to_the_sign_in_page_keeps_the_language_asked_for(
    client: httpx.AsyncClient,
) -> None:
    asked = await client.get("/me", params={"lang": "zh"})
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=%2Fme%3Flang%3Dzh&lang=zh"
    login = await client.get(asked.headers["location"])
    assert login.headers["content-language"] == "zh-Hans"
    assert Page(login.text).controls  # the form, to return to /me?lang=zh
    assert 'value="/me?lang=zh"' in login.text
    plain = await client.get("/console")
    assert plain.headers["location"] == "/login?next=%2Fconsole"
