"""The portal served by a real uvicorn server and driven in Debian's Chromium (Playwright):
the fixtures of the browser tests (``tests/web/conftest.py``) and their helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx

from tests.support.service_fixtures import PERSON
from tests.support.serving import serve_app
from tests.support.web_fixtures import Portal, seed_portal

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Response, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: Final[ViewportSize] = {"width": 390, "height": 844}
"""A phone's viewport (an iPhone 12 to 15): the width the portal must fit without scrolling."""
LANGUAGES: Final = ("zh", "en")


@dataclass
class Live:
    """A seeded portal served on a local port."""

    portal: Portal
    url: str
    engine_name: str

    def check(self) -> dict[str, object]:
        """The airline's check of the seeded person, over HTTP."""

        answer = httpx.get(
            f"{self.url}/v1/checks",
            params={"subject": PERSON, "measure": "restrict-flights"},
            headers={"Authorization": f"Bearer {self.portal.tokens['relying']}"},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def serve_portal(url: str, tmp_path: Path) -> Iterator[Live]:
    """Seed a portal on ``url`` and serve it until the test ends."""
    portal = seed_portal(url, tmp_path)
    try:
        with serve_app(portal.service.app) as base:
            yield Live(portal, base, url.partition(":")[0].partition("+")[0])
    finally:
        portal.service.engine.dispose()


def launch() -> Iterator[Browser]:
    """Debian's Chromium, headless, for one test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watched:
    """What a page asked for and what went wrong in it, as it happened."""

    requested: list[str]
    refused: list[str]
    """Console messages of the Content Security Policy refusing something."""
    errors: list[str] = field(default_factory=list)
    """Console errors and uncaught exceptions, each with where it happened."""
    failed: list[str] = field(default_factory=list)
    """Responses with a 5xx status: the server failed, whatever the page shows."""


def watch(page: Page) -> Watched:
    """Record every request the page makes, every CSP refusal and console error in its console,
    every uncaught exception and every 5xx answer."""
    seen = Watched([], [])
    page.on("request", lambda request: seen.requested.append(request.url))
    page.on("console", lambda message: _console(seen, message))
    page.on("pageerror", lambda error: seen.errors.append(f"uncaught: {error} ({page.url})"))
    page.on("response", lambda response: _answered(seen, response))
    return seen


def _console(seen: Watched, message: ConsoleMessage) -> None:
    if "Content Security Policy" in message.text:
        seen.refused.append(message.text)
    if message.type == "error":
        seen.errors.append(f"{message.text} ({message.location.get('url', '')})")


def _answered(seen: Watched, response: Response) -> None:
    if response.status >= 500:
        seen.failed.append(f"{response.status} {response.request.method} {response.url}")


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the whole page under ``tests/artifacts/``."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in_as(page: Page, live: Live, role: str) -> None:
    """Sign in through the login form with the key of ``role``."""
    page.goto(f"{live.url}/login")
    page.get_by_label("Your key").fill(live.portal.tokens[role])
    page.get_by_role("button", name="Sign in").click()


def sign_in_with_key(page: Page, live: Live, role: str, language: str) -> None:
    """Sign in through the login form in ``language`` with the key of ``role``, by the form's
    fields rather than their labels, which are in ``language``; wait to leave the form."""
    page.goto(f"{live.url}/login?lang={language}")
    page.locator("#token").fill(live.portal.tokens[role])
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.wait_for_url(lambda url: "/login" not in url)
