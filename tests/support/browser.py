"""The portal served by a real uvicorn server and driven in Debian's Chromium (Playwright):
the fixtures of the browser tests (``tests/web/conftest.py``) and their helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.service_fixtures import PERSON
from tests.support.serving import serve_app
from tests.support.web_fixtures import Portal, seed_portal

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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
    """What a page asked for and what its Content Security Policy refused, as it happened."""

    requested: list[str]
    refused: list[str]


def watch(page: Page) -> Watched:
    """Record every request the page makes and every CSP refusal in its console."""
    seen = Watched([], [])
    page.on("request", lambda request: seen.requested.append(request.url))
    page.on(
        "console",
        lambda message: (
            seen.refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the whole page under ``tests/artifacts/``."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in_as(page: Page, live: Live, role: str) -> None:
    """Sign in through the login form with the key of ``role``."""
    page.goto(f"{live.url}/login")
    page.get_by_label("Your key").fill(live.portal.tokens[role])
    page.get_by_role("button", name="Sign in").click()
