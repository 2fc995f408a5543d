"""The portal and the API under a peer scheme: the scheme page explains the peer score, the
rated subject's file shows the ratings behind it without naming the raters, the outlook says
when ratings stop counting, and operators keep the full detail.

The ``nosedive-gate`` pilot next to the example scheme; lacie was rated 5 stars by town-01 and,
after she rated town-02 1 star, 1 star back by town-02 (a reply: presumed retaliation).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from tests.support.pages import Page, check_page
from tests.support.peer_rows import interaction, ledger_rating
from tests.support.service_fixtures import Service, make_service
from tests.support.web_fixtures import sign_in
from xinyong.application.keys import Role, create_key
from xinyong.decisions.checks import check_measure
from xinyong.ingest.records import ingest_rows
from xinyong.ingest.subjects import load_subjects
from xinyong.ledger.database import WRITE, WRITE_LOCK
from xinyong.ledger.schema import relying_parties
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.scoring.store import add_scheme

pytestmark = pytest.mark.anyio
GATE = "nosedive-gate"
RATERS = ("town-01", "town-02")


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[tuple[Service, str]]:
    """The service with the pilot, lacie's ratings, her key, and one boarding check of her."""
    service = make_service(f"sqlite:///{tmp_path / 'ledger.db'}")
    ctx = service.app.state.context
    people = tmp_path / "people.csv"
    people.write_text(
        "subject_id,kind,display_name\nlacie,person,Lacie Pound\n"
        "town-01,person,Chester\ntown-02,person,Naomi\n",
        encoding="utf-8",
    )
    assert load_subjects(service.engine, people).rejected == 0
    rows: list[dict[str, object]] = [
        interaction("m0a", "town-01", "town-02", "m0", "2025-05-01"),
        interaction("m0b", "town-02", "town-01", "m0", "2025-05-01"),
    ]
    for number, rater in enumerate(RATERS, start=1):
        case = f"m{number}"
        rows.append(interaction(f"{case}a", rater, "lacie", case, "2025-06-01"))
        rows.append(interaction(f"{case}b", "lacie", rater, case, "2025-06-01"))
    rows += [
        ledger_rating("r1", "town-01", "lacie", "m1", "2025-06-02", 5),
        ledger_rating("r3", "lacie", "town-02", "m2", "2025-06-02", 1),
        ledger_rating("r2", "town-02", "lacie", "m2", "2025-06-02", 1),
    ]
    report = ingest_rows(service.engine, rows, ctx.catalog, source="app", today=service.clock())
    assert report.rejects == []
    with service.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        add_scheme(conn, load_scheme(bundled_pilots()[GATE]))
        conn.execute(
            insert(relying_parties).values(
                name="gate-airline",
                measures='["board-flight"]',
                purpose="boarding",
                webhook_url=None,
                created_at="2025-05-01T00:00:00Z",
            )
        )
        service.tokens["lacie"] = create_key(conn, Role.SUBJECT, "lacie").token
    ctx.registry.invalidate()
    with service.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        decision = check_measure(
            conn,
            ctx.registry,
            "gate-airline",
            "lacie",
            "board-flight",
            service.clock(),
            ctx.catalog,
        )
    yield service, decision.decision_id
    service.engine.dispose()


@asynccontextmanager
async def _as_lacie(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client() as client:
        assert (await sign_in(client, service.tokens["lacie"])).status_code == 303
        yield client


def _standing(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in data["standings"] if s["scheme"] == GATE)
    return found


async def test_the_scheme_page_explains_the_peer_score(gate: tuple[Service, str]) -> None:
    service, _ = gate
    async with service.client() as client:
        data = (await client.get(f"/schemes/{GATE}.json")).json()
        html = (await client.get(f"/schemes/{GATE}")).text
    page = check_page(html)
    assert data["summary"] == (
        "It scores people. Everyone starts at 0 points and gets 1 point per star of their "
        "peer score (0 to 5 stars, from the ratings other people give them); the score never "
        "goes below 0 and never goes above 5."
    )
    peer = data["peer"]
    assert (peer["algorithm"], peer["prior"], peer["min_ratings"], peer["seeds"]) == (
        "eigentrust",
        4.3,
        10,
        3,
    )
    words = " ".join(peer["words"])
    for part in (
        "Algorithm “eigentrust”: a rating weighs as much as the trust its rater has earned",
        "the 3 pre-trusted accounts the scheme names",
        "15% of it returns",
        "10 ratings' worth of 4.3 stars",
        "A rating counts for 1 month after it was given.",
        "sees it (but not who gave it)",
    ):
        assert part in words
    guards = " ".join(peer["safeguards"])
    for part in (
        "given less than 1 week after the rated person rated the rater 2 stars or less is "
        "presumed retaliation and keeps none of its weight; the rating it answers counts in full",
        "inside a group of 5 or more",
        "first interaction (new accounts) keep 25% of their weight",
    ):
        assert part in guards
    for sentence in peer["words"] + peer["safeguards"]:
        assert sentence in page.text
    assert "The peer score" in {t for _, t in page.headings}
    assert "This scheme has no rule" in page.text
    assert "Everyone starts at 0 points." not in page.text
    assert "town-01" not in html  # the seeds are counted, not named


async def test_the_rated_subject_sees_ratings_but_not_raters(gate: tuple[Service, str]) -> None:
    service, _ = gate
    async with _as_lacie(service) as client:
        data = (await client.get("/me.json")).json()
        html = (await client.get("/me")).text
        bearer = {"Authorization": f"Bearer {service.tokens['lacie']}"}
        api = (await client.get("/v1/me", headers=bearer)).json()
    assert api["standings"] == data["standings"]
    assert api["records"] == data["records"]
    peer = _standing(data)["peer"]
    # lacie: rated 5 by town-01 and 1 by town-02 in reply to hers, which weighs 0:
    # (10 * 4.3 + W * 5) / (10 + W) with W = 4 * 20/77 = 80/77 (the seeds' trust).
    assert peer["score"] == pytest.approx((43 + 400 / 77) / (10 + 80 / 77))
    ratings = {r["record"]: r for r in peer["ratings"]}
    assert set(ratings) == {"app/r1", "app/r2"}
    assert {r["rater"] for r in ratings.values()} == {"rater 1", "rater 2"}
    for r in ratings.values():
        assert set(r) == {
            "record",
            "rater",
            "stars",
            "occurred_at",
            "age_days",
            "weight",
            "discounted",
        }
    assert ratings["app/r2"]["weight"] == 0
    assert ratings["app/r2"]["discounted"][0].startswith("retaliation")
    assert ratings["app/r1"]["weight"] == pytest.approx(80 / 77)
    received = [r for r in data["records"] if r["code"] == "peer.rating"]
    assert {r["record"]: r["attrs"]["rater"] for r in received} == {
        key: r["rater"] for key, r in ratings.items()
    }
    assert all(r["case_id"] is None for r in received)  # the interaction names the rater
    assert {r["status"] for r in received} == {"counting"}
    check_page(html)
    article = html.split(f'id="standing-{GATE}"', 1)[1].split("</article>", 1)[0]
    text = Page(f"<h1>{article}").text
    assert "Your peer score" in text
    assert "rater 1" in text
    assert "retaliation" in text
    assert "No record counts: your score is the starting score." not in text
    assert "your score is the starting score plus what your peer score adds" in text
    for rater in RATERS:
        assert rater not in str(_standing(data))
        assert rater not in str(received)


async def test_the_outlook_says_when_ratings_stop_counting(gate: tuple[Service, str]) -> None:
    service, _ = gate
    async with _as_lacie(service) as client:
        data = (await client.get("/me.json")).json()
    view = next(v for v in data["schemes"] if v["scheme"] == GATE)
    # Both ratings of 2025-06-02 count for 30 days: from 2025-07-02 nobody rates lacie, and her
    # peer score is the prior 4.3: BOARDING, no discount.
    step = next(s for s in view["outlook"] if s["on"] == "2025-07-02")
    assert {"app/r1", "app/r2"} <= set(step["records_ending"])
    assert (step["score"], step["grade"]) == (4.3, "BOARDING")
    assert view["history"][-1]["score"] == round(_standing(data)["score"], 2)


async def test_operators_see_raters_and_their_weights(gate: tuple[Service, str]) -> None:
    service, decision = gate
    async with service.client() as client:
        as_operator = (
            await client.get(f"/v1/decisions/{decision}", headers=service.headers("operator"))
        ).json()
        as_lacie = (
            await client.get(
                f"/v1/decisions/{decision}",
                headers={"Authorization": f"Bearer {service.tokens['lacie']}"},
            )
        ).json()
    full = {r["record"]: r for r in as_operator["explanation"]["peer"]["ratings"]}
    assert {r["rater"] for r in full.values()} == set(RATERS)
    assert full["app/r1"]["rater_weight"] == pytest.approx(80 / 77)
    shown = as_lacie["explanation"]["peer"]["ratings"]
    assert {r["rater"] for r in shown} == {"rater 1", "rater 2"}
    assert not any("rater_weight" in r for r in shown)
    for rater in RATERS:
        assert rater not in str(shown)
