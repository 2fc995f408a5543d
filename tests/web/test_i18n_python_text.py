"""Text the portal's Python makes (a scheme in plain words, chart labels, page errors, refused
forms, the rights every notice states) is in Chinese on a Chinese page, and its English stays the
English of the JSON twins and the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date

import httpx
import pytest

from tests.support.pages import Page
from tests.support.web_fixtures import Portal, form_token, seed_portal, sign_in
from xinyong.decisions.notices import RIGHTS
from xinyong.domain.refusals import NotAllowed, Word
from xinyong.domain.relations import ROLE_WORDS
from xinyong.i18n import N_, Message, gettext_for
from xinyong.web.i18n import LANG_COOKIE
from xinyong.web.plain_language import ROLES
from xinyong.web.templates import in_language

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """One seeded portal for the module: the tests only read, or make forms that are refused."""
    tmp_path = tmp_path_factory.mktemp("portal")
    seeded = seed_portal(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    yield seeded
    seeded.service.engine.dispose()


async def _client(portal: Portal, subject: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    async with portal.service.client() as client:
        if subject:
            assert (await sign_in(client, portal.tokens["subject"])).status_code == 303
        client.cookies.set(LANG_COOKIE, "zh")
        yield client


@pytest.fixture
async def public(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(portal):
        yield client


@pytest.fixture
async def subject(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(portal, subject=True):
        yield client


def _text(response: httpx.Response) -> str:
    assert response.headers["content-language"] == "zh-Hans"
    return Page(response.text).text


async def test_the_scheme_in_plain_words_is_in_chinese(public: httpx.AsyncClient) -> None:
    text = _text(await public.get("/schemes/rongcheng"))
    for chinese in (
        "本方案对自然人进行评分。每个信用主体的起始分为 1000 分；分数最低为 0，最高为 1200。",
        "扣 20 分；自发生之日起计入 3 年，期间权重逐渐递减。",
        "本规则累计最多计 100 分。",
        "1050 分及以上",
        "黑名单（惩戒）：所有等级为 D 的信用主体",
        "惩戒措施：No purchase of flight tickets。适用对象：名单 blacklist 上的信用主体。",
    ):
        assert chinese in text
    for english in ("It scores people", "takes away 20 points", "points or more", "Legal basis"):
        assert english not in text
    twin = (await public.get("/schemes/rongcheng.json")).json()  # data: English in every language
    assert twin["summary"].startswith("It scores people. Everyone starts at 1000 points")


async def test_the_transparency_charts_are_labelled_in_chinese(public: httpx.AsyncClient) -> None:
    page = await public.get("/transparency")
    text = _text(page)
    for chinese in (
        "各名单每月末的条目数",
        "最新数值：",
        "按处理结果统计的异议",
        "逾期失效",
        "月份",
    ):
        assert chinese in page.text
    for english in ("List sizes at the end of each month", "Latest values", "Objections by"):
        assert english not in page.text
    assert "异议数，待处理：0" in text  # a bar's tooltip, its category a word of the report
    twin = (await public.get("/transparency.json")).json()
    assert twin["charts"]["objections"]["x"][0] == "open"


async def test_the_subjects_file_and_its_notices_rights_are_in_chinese(
    subject: httpx.AsyncClient,
) -> None:
    text = _text(await subject.get("/me"))
    assert "您在荣成模式个人信用积分（示例值）下的分数" in text  # the chart, the pilot's name
    assert "您在荣成模式个人信用积分（示例值）下的分数和等级" in text  # a review's subject
    assert "airline对“restrict-flights”的查询" in text  # a decision to ask a review of
    assert gettext_for("zh")(RIGHTS[1]) in text
    for english in (*RIGHTS, "Your score under", "'s check of", "Latest values", "citizen points"):
        assert english not in text


async def test_an_error_page_is_in_chinese_and_its_twin_in_english(
    public: httpx.AsyncClient,
) -> None:
    missing = await public.get("/schemes/nope")
    assert missing.status_code == 404
    assert "没有现行有效的信用方案 'nope'。" in _text(missing)
    assert "There is no active scheme" not in missing.text
    twin = await public.get("/schemes/nope.json")
    assert twin.json() == {"detail": "There is no active scheme 'nope'."}


async def test_a_refused_objection_says_why_in_chinese_and_the_api_in_english(
    portal: Portal, subject: httpx.AsyncClient
) -> None:
    csrf = form_token((await subject.get("/me")).text)
    empty = await subject.post("/me/objections", data={"csrf": csrf, "record": "bank/d1"})
    assert empty.status_code == 422
    assert "提出异议须说明理由" in _text(empty)
    assert "needs a reason" not in empty.text
    other = await subject.post(
        "/me/objections", data={"csrf": csrf, "record": "bank/nope", "reason": "not mine"}
    )
    assert "您的信用档案中没有记录 bank/nope" in _text(other)  # the value filled after
    api = await subject.post(
        "/v1/me/objections",
        json={"source": "bank", "record_id": "nope", "reason": "not mine"},
        headers={"Authorization": f"Bearer {portal.tokens['subject']}"},
    )
    assert api.status_code == 422
    assert api.json()["detail"] == "no record bank/nope in your file"


def test_a_refusal_is_english_filled_and_shown_translated_then_filled() -> None:
    refused = NotAllowed(
        N_("the %(kind)s decision could be appealed until %(day)s"),
        kind=Word("objection"),
        day=date(2026, 5, 1),
    )
    assert str(refused) == "the objection decision could be appealed until 2026-05-01"
    shown = Message(refused.template, **refused.params)
    assert shown == str(refused)  # a twin's or the API's English
    assert in_language(shown, "en") == str(refused)
    assert in_language(shown, "zh") == "该异议决定的复议申请期限已于2026年5月1日届满"
    assert in_language("data, not a message", "zh") == "data, not a message"


def test_the_roles_a_measure_reaches_are_the_domains_words() -> None:
    assert ROLES == ROLE_WORDS
