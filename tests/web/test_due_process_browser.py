"""The subject's rights end to end, in Chromium against a real server, on SQLite and PostgreSQL:
human review, appeal to another operator, and the furnisher told of a dispute (signed webhook)
and answering it. Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.browser import CHROMIUM, Live, shot, sign_in_as
from tests.support.service_fixtures import Webhook, webhook_server
from xinyong.due_process.outbox import deliver_pending
from xinyong.worker import post_json

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it)",
    ),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    yield from webhook_server()


def _status(page: Page, words: str) -> None:
    expect(page.get_by_role("status").filter(has_text=words)).to_be_visible()


def _object(page: Page, reason: str) -> None:
    form = page.locator("form[action='/me/objections']")
    form.get_by_label("Record", exact=True).select_option("bank/d1")
    form.get_by_label("Why it is wrong").fill(reason)
    form.get_by_role("button", name="File the objection").click()
    _status(page, "objection is filed")


def test_a_person_reviews_a_check_and_changes_it(live_any: Live, browser: Browser) -> None:
    assert live_any.check()["applies"] is True
    subject = browser.new_context().new_page()
    sign_in_as(subject, live_any, "subject")
    form = subject.locator("form[action='/me/reviews']")
    form.get_by_label("Decision", exact=True).select_option(index=0)
    form.get_by_label("What you think is wrong").fill("A program cannot know the loan was forged.")
    form.get_by_role("button", name="Ask for a review").click()
    _status(subject, "a person will review")
    reviews = subject.locator("section[aria-labelledby=reviews] tbody")
    expect(reviews).to_contain_text("open")
    shot(subject, f"review-asked-{live_any.engine_name}")

    operator = browser.new_context().new_page()
    sign_in_as(operator, live_any, "operator")
    operator.get_by_role("link", name="Requests for human review").click()
    expect(operator.get_by_role("heading", level=1)).to_have_text("Requests for human review")
    operator.get_by_label("Change (the records chosen below stop counting)").check()
    operator.get_by_label("bank/d1").check()
    operator.get_by_label("Written reason").fill("The contract was signed with a forged card.")
    shot(operator, f"review-queue-{live_any.engine_name}")
    operator.get_by_role("button", name="Decide").click()
    _status(operator, "decision is recorded")

    assert live_any.check()["applies"] is False
    subject.reload()
    expect(reviews).to_contain_text("changed")
    expect(reviews).to_contain_text("forged card")
    expect(subject.locator("section[aria-labelledby=notices]")).to_contain_text("Review changed")
    shot(subject, f"review-changed-{live_any.engine_name}")


def test_an_appeal_is_decided_by_another_operator(live_any: Live, browser: Browser) -> None:
    subject = browser.new_context().new_page()
    sign_in_as(subject, live_any, "subject")
    _object(subject, "The loan was repaid in full.")

    first = browser.new_context().new_page()
    sign_in_as(first, live_any, "operator")
    first.goto(f"{live_any.url}/console/objections")
    first.get_by_label("Reject (the record stands)").check()
    first.get_by_label("Written reason").fill("The bank's statement shows no repayment.")
    first.get_by_role("button", name="Decide").click()
    _status(first, "decision is recorded")

    subject.reload()
    form = subject.locator("form[action='/me/appeals']")
    form.get_by_label("Decision", exact=True).select_option(index=0)
    form.get_by_label("Why the decision is wrong").fill("Here is the bank's receipt, no. 5521.")
    form.get_by_role("button", name="Appeal").click()
    _status(subject, "another operator decides")
    expect(subject.locator("#appeal").locator("..")).to_contain_text("No decision can be appealed")

    first.goto(f"{live_any.url}/console/appeals")
    first.get_by_label("Grant (the record stops counting)").check()
    first.get_by_label("Written reason").fill("I was wrong.")
    first.get_by_role("button", name="Decide").click()
    expect(first.get_by_role("alert")).to_contain_text("another operator decides the appeal")
    shot(first, f"appeal-refused-to-first-operator-{live_any.engine_name}")

    second = browser.new_context().new_page()
    sign_in_as(second, live_any, "second-operator")
    second.get_by_role("link", name="Appeals").first.click()
    second.get_by_label("Grant (the record stops counting)").check()
    second.get_by_label("Written reason").fill("The receipt predates the reported default.")
    second.get_by_role("button", name="Decide").click()
    _status(second, "decision is recorded")

    subject.reload()
    appeals = subject.locator("section[aria-labelledby=appeals] tbody")
    expect(appeals).to_contain_text("granted")
    expect(subject.locator("section[aria-labelledby=records]")).to_contain_text("revoked")
    shot(subject, f"appeal-granted-{live_any.engine_name}")


def test_the_source_is_told_and_answers(live_any: Live, browser: Browser, webhook: Webhook) -> None:
    operator = {"Authorization": f"Bearer {live_any.portal.tokens['operator']}"}
    registered = httpx.put(
        f"{live_any.url}/v1/sources/bank", headers=operator, json={"webhook_url": webhook.url}
    )
    secret = registered.json()["webhook_secret"]
    subject = browser.new_context().new_page()
    sign_in_as(subject, live_any, "subject")
    _object(subject, "Never my loan.")
    engine = live_any.portal.service.engine
    assert deliver_pending(engine, post_json) == (1, 0)
    [told] = webhook.verified(secret)
    assert (told["type"], told["record_id"]) == ("dispute", "d1")

    source = {"Authorization": f"Bearer {live_any.portal.tokens['source']}"}
    answered = httpx.post(
        f"{live_any.url}/v1/disputes/{told['objection_id']}/answer",
        headers=source,
        json={
            "verdict": "accurate",
            "statement": "The contract bears the subject's signature.",
            "evidence": "contract scan 4411",
        },
    )
    assert answered.status_code == 200, answered.text
    subject.reload()
    objections = subject.locator("section[aria-labelledby=objections]")
    expect(objections).to_contain_text("accurate: The contract bears the subject's signature.")
    deadline = told["deadline"]
    expect(objections.locator("tbody")).to_contain_text(deadline)

    objections.get_by_label("Information for").fill("The signature differs from my ID card.")
    objections.get_by_role("button", name="Add the information").click()
    _status(subject, "deadline is extended")
    expect(objections.locator("tbody")).to_contain_text("(extended)")
    expect(objections.locator("tbody")).not_to_contain_text(deadline)
    shot(subject, f"dispute-answered-{live_any.engine_name}")
    assert deliver_pending(engine, post_json) == (1, 0)
    assert webhook.verified(secret)[1]["added_information"] == (
        "The signature differs from my ID card."
    )
