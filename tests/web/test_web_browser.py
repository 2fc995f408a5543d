"""The portal in a real browser: Debian's Chromium driven by Playwright against a real uvicorn
server over a seeded ledger (SQLite; eligibility on PostgreSQL too). Each test saves screenshots
under ``tests/artifacts/``.

The flow of the issue: browse and search the public list; a subject signs in, reads the
explanation and files an objection; the operator upholds it in the console; the public list no
longer shows the entry.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.browser import CHROMIUM, Live, shot, sign_in_as, watch
from tests.support.web_fixtures import OTHER_NAME

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it)",
    ),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect


def _object(page: Page) -> None:
    form = page.locator("form[action='/me/objections']")
    form.get_by_label("Record", exact=True).select_option("bank/d1")
    form.get_by_label("Why it is wrong").fill("The loan was never mine.")
    form.get_by_role("button", name="File the objection").click()


def _entries(page: Page) -> int:
    return page.locator("#results tbody tr").count()


def test_browse_and_search_the_public_list(live: Live, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(live.url)
    page.get_by_role("link", name="Black list “blacklist”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Black list “blacklist”")
    expect(page.locator("#results tbody tr")).to_have_count(2)
    # on a phone each entry's link is on screen without scrolling sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for link in page.get_by_role("link", name="Why listed").all():
        box = link.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
    shot(page, "public-list")
    page.get_by_label("Search by full identifier or name").fill(OTHER_NAME)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status").filter(has_text="found for")).to_contain_text("1 entry")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results tbody")).to_contain_text("李*")
    assert "q=" in page.url  # htmx kept the address of the search
    shot(page, "public-list-search")
    page.get_by_role("link", name="Why listed").click()
    expect(page.get_by_role("heading", name="Why this entry is on the list")).to_be_visible()
    expect(page.locator("main")).to_contain_text("court.breach_judgment")
    shot(page, "public-entry")


def test_subject_reads_the_explanation_and_objects(live: Live, browser: Browser) -> None:
    page = browser.new_page()
    sign_in_as(page, live, "subject")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your file")
    expect(page.get_by_role("heading", name="Your standing")).to_be_visible()
    expect(page.locator("main")).to_contain_text("grade C")
    expect(page.get_by_role("img", name="Your score under")).to_be_visible()
    expect(page.get_by_role("heading", name="What would lift your grade")).to_be_visible()
    shot(page, "subject-file")
    _object(page)
    expect(page.get_by_role("status").filter(has_text="objection is filed")).to_be_visible()
    objections = page.locator("section[aria-labelledby=objections] tbody")
    expect(objections).to_contain_text("The loan was never mine.")
    expect(objections).to_contain_text("open")
    shot(page, "subject-objection-filed")


def test_operator_upholds_and_the_entry_leaves_the_list(live: Live, browser: Browser) -> None:
    subject = browser.new_context().new_page()
    sign_in_as(subject, live, "subject")
    _object(subject)
    expect(subject.get_by_role("status").filter(has_text="objection is filed")).to_be_visible()

    public = browser.new_context().new_page()
    public.goto(f"{live.url}/lists/rongcheng/blacklist")
    assert _entries(public) == 2

    operator = browser.new_context().new_page()
    sign_in_as(operator, live, "operator")
    expect(operator.get_by_role("heading", level=1)).to_have_text("Operator console")
    shot(operator, "console")
    operator.get_by_role("link", name="Objections").first.click()
    expect(operator.get_by_role("heading", name="bank/d1")).to_be_visible()
    shot(operator, "console-objections")
    operator.get_by_label("Uphold (revoke the record)").check()
    operator.get_by_label("Written reason").fill("The bank could not verify the contract.")
    operator.get_by_role("button", name="Decide").click()
    expect(operator.get_by_role("status")).to_contain_text("decision is recorded")
    shot(operator, "console-objection-upheld")

    public.reload()
    expect(public.locator("#results tbody tr")).to_have_count(1)
    expect(public.locator("#results tbody")).not_to_contain_text("王")
    shot(public, "public-list-after-upholding")


@pytest.mark.parametrize(
    ("path", "ready"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]
)
def test_api_documentation_renders_offline(
    live: Live, browser: Browser, path: str, ready: str
) -> None:
    page = browser.new_page()
    seen = watch(page)
    page.goto(f"{live.url}{path}")
    expect(page.locator(ready).first).to_contain_text("xinyong decision service", timeout=30_000)
    shot(page, f"api{path.replace('/', '-')}")
    assert seen.requested
    assert all(
        url.startswith(live.url) or url.startswith(("data:", "blob:")) for url in seen.requested
    ), [url for url in seen.requested if not url.startswith(live.url)]
    assert seen.refused == []


def test_a_subject_sees_why_a_scheme_does_not_score_them(live_any: Live, browser: Browser) -> None:
    """A scheme that scores only those who consent: the subject, who never consented, reads on
    their own file that it does not score them and why, and the scheme's page says whom it
    scores."""
    from tests.support.findings import LAWFUL

    text = LAWFUL.replace('id = "gate-test"', 'id = "consenting"').replace(
        "[[grades]]", '[eligibility]\nconsent = "required"\n\n[[grades]]', 1
    )
    added = httpx.post(
        f"{live_any.url}/v1/schemes",
        content=text,
        headers={
            "Authorization": f"Bearer {live_any.portal.tokens['operator']}",
            "content-type": "application/toml",
        },
    )
    assert added.status_code == 201, added.text
    page = browser.new_page()
    sign_in_as(page, live_any, "subject")
    notice = page.locator("article[aria-labelledby=not-scored-consenting]")
    expect(notice).to_contain_text("This scheme does not score you")
    expect(notice).to_contain_text("no consent is in force")
    shot(page, "subject-not-scored")
    page.goto(f"{live_any.url}/schemes/consenting")
    expect(page.locator("main")).to_contain_text("who have consented to it")


def test_chinese_is_drawn_with_the_bundled_font_and_nothing_is_fetched_elsewhere(
    live: Live, browser: Browser
) -> None:
    """The list names people in Chinese: the page draws them with the bundled subset of Noto
    Sans SC (served from /static, allowed by the CSP), so they are not boxes on a machine
    without CJK fonts, and no request leaves the origin."""
    page = browser.new_page()
    seen = watch(page)
    page.goto(live.url)
    page.get_by_role("link", name="Black list “blacklist”").click()
    expect(page.locator("#results tbody")).to_contain_text(OTHER_NAME[0])  # 李*
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate(
        "Array.from(document.fonts).filter(f => f.family.includes('Xinyong Sans SC'))"
        ".map(f => f.status)"
    )
    assert loaded == ["loaded"]
    assert page.evaluate(f"document.fonts.check('16px \"Xinyong Sans SC\"', '{OTHER_NAME}')")
    # which font Chromium drew each element's glyphs with: the Chinese ones from ours (a bold
    # system font once drew them as boxes while the check above still said true)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    for selector, chinese in (("a.brand", 2), ("#results tbody td", 1)):  # 信用, 李
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        ours = [f for f in fonts if f["familyName"] == "Xinyong Sans SC"]
        assert ours, (selector, fonts)
        assert ours[0]["isCustomFont"]
        assert ours[0]["glyphCount"] == chinese, (selector, fonts)
    shot(page, "public-list-chinese-font")
    assert f"{live.url}/static/fonts/XinyongSansSC-Regular.woff2" in seen.requested
    assert all(url.startswith(live.url) for url in seen.requested), [
        url for url in seen.requested if not url.startswith(live.url)
    ]
    assert seen.refused == []
