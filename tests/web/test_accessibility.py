"""The portal's main pages under axe-core, in Chinese and in English: no violation whose impact
is serious or critical (WCAG 2.x A and AA, and axe's best practices).

axe-core is vendored (``tests/vendor/axe-core``, see its README): the test machine has no
internet. Every violation of every page is collected and reported at once: page, rule, element.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from tests.support.browser import CHROMIUM, LANGUAGES, PHONE, Live, sign_in_with_key
from tests.support.web_fixtures import OTHER_NAME

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it)",
    ),
]

AXE: Final = Path(__file__).parents[1] / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION: Final = "4.14.1"
SERIOUS: Final = ("serious", "critical")
WIDTHS: Final[dict[str, ViewportSize]] = {"desktop": {"width": 1280, "height": 800}, "phone": PHONE}
"""Each page is audited as laid out on a desktop and on a phone: a table that fits the one
scrolls on the other, and a region that scrolls must take the keyboard focus."""
PUBLIC: Final = {
    "home": ("/", 200),
    "a scheme": ("/schemes/rongcheng", 200),
    "a list": ("/lists/rongcheng/blacklist", 200),
    "search results": (f"/search?q={OTHER_NAME}", 200),
    "transparency": ("/transparency", 200),
    "login": ("/login", 200),
    "an error page": ("/schemes/no-such-scheme", 404),
}
"""The main public pages and the status each answers with (an entry is found on the list, its
address being random)."""
SIGNED_IN: Final = {
    "the subject's file": ("subject", "/me"),
    "the console": ("operator", "/console"),
}

# Every violation as plain data: rule, impact, what it asks, and each element with its problem.
_RUN = """
async () => {
  const found = await axe.run(document, {resultTypes: ["violations"]});
  return found.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html,
                               summary: n.failureSummary}))}));
}
"""


@functools.cache
def _axe() -> str:
    """axe-core's source, run in the page by ``page.evaluate``. Not ``add_script_tag``: the
    portal's Content-Security-Policy (``script-src 'self'``) refuses an inline script, as it
    should; and not a context with ``bypass_csp``, which would audit a page other than the one
    people get (inline styles and scripts allowed). Playwright evaluates through the DevTools
    protocol, which the page's CSP does not govern."""
    return AXE.read_text(encoding="utf-8")


def audit(page: Page, name: str) -> list[str]:
    """The serious and critical violations of the page open in ``page``, one line per element,
    at each of :data:`WIDTHS` (the page is laid out again, not reloaded)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(_axe())
    assert page.evaluate("axe.version") == AXE_VERSION
    found = []
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        violations: list[dict[str, Any]] = page.evaluate(_RUN)
        found += [
            f"{name} {page.url} ({width}): {v['impact']} {v['id']} ({v['help']}): "
            f"{node['target']} {node['html'][:160]!r}: {' '.join(node['summary'].split())}"
            for v in violations
            if v["impact"] in SERIOUS
            for node in v["nodes"]
        ]
    return found


def _open(page: Page, url: str, status: int = 200) -> None:
    """Open ``url``, a page of the portal answering ``status``, and wait until its fonts are
    drawn (contrast is measured on what shows)."""
    response = page.goto(url)
    assert response is not None
    assert response.status == status, (url, response.status)
    assert "text/html" in response.headers["content-type"], (url, response.headers)
    page.evaluate("document.fonts.ready")


def test_axe_runs_and_finds(browser: Browser) -> None:
    """The vendored axe-core runs under Playwright and finds what it must: an image without a
    text alternative and a button without a name are critical."""
    page = browser.new_page()
    page.set_content(
        '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button></button></main></body>'
    )
    found = audit(page, "a broken page")
    page.context.close()
    assert any(" critical image-alt " in line for line in found), found
    assert any(" critical button-name " in line for line in found), found


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_main_pages_have_no_serious_violations(
    live: Live, browser: Browser, language: str
) -> None:
    """Home, a scheme, a list, an entry, search results, transparency, login and an error page,
    then the subject's file and the console signed in: none with a serious or critical
    violation."""
    found: list[str] = []
    page = browser.new_page()
    _open(page, f"{live.url}/?lang={language}")  # the switch: later pages keep the language
    for name, (path, status) in PUBLIC.items():
        _open(page, f"{live.url}{path}", status)
        found += audit(page, f"[{language}] {name}")
        if name == "a list":
            entry = page.locator("#results tbody a").first.get_attribute("href")
            assert entry is not None
            _open(page, f"{live.url}{entry}")
            found += audit(page, f"[{language}] an entry")
    page.context.close()
    for name, (role, path) in SIGNED_IN.items():
        page = browser.new_page()
        sign_in_with_key(page, live, role, language)
        _open(page, f"{live.url}{path}")
        found += audit(page, f"[{language}] {name}")
        page.context.close()
    assert not found, "\n".join(found)
