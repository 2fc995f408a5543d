"""The bundled pilots' own text (the scheme's name and description, its grades, rules, lists and
measures, and each sanction's legal basis) reads in Chinese on a Chinese page; the JSON twins keep
it as the scheme file wrote it, and a deployment's own scheme, which no catalog translates, reads
as written in both languages."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.overridden import add_overridden
from tests.support.pages import Page
from tests.support.service_fixtures import SCHEME, Service, make_service
from xinyong.domain.catalog import load_catalog
from xinyong.i18n import catalog, strings_under
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.web.i18n import LANG_COOKIE

pytestmark = pytest.mark.anyio

KEYS = {"name", "description", "basis", "legal_basis"}
PILOTS = bundled_pilots()
OWN_ID = "district-points"
OWN_NAME = "Our district's own citizen points"


def _texts(path: Path) -> list[str]:
    """The text of a scheme file that people read, as ``babel.cfg`` extracts it."""
    return list(dict.fromkeys(strings_under(tomllib.loads(path.read_text("utf-8")), KEYS)))


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Every bundled pilot and a deployment's own scheme, active."""
    folder = tmp_path_factory.mktemp("pilots")
    made = make_service(f"sqlite:///{folder / 'ledger.db'}")
    own = folder / "own.toml"
    own.write_text(
        SCHEME.read_text("utf-8")
        .replace('id = "rongcheng"', f'id = "{OWN_ID}"', 1)
        .replace(load_scheme(SCHEME).scheme.name, OWN_NAME, 1),
        "utf-8",
    )
    bundled = load_catalog()
    with made.engine.begin() as conn:
        for path in (*PILOTS.values(), own):
            add_overridden(conn, load_scheme(path), catalog=bundled)
    yield made
    made.engine.dispose()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client() as made:
        yield made


def test_every_pilot_text_has_its_chinese() -> None:
    zh = catalog("zh")
    for pilot, path in PILOTS.items():
        texts = _texts(path)
        assert texts, pilot
        missing = [t for t in texts if t not in zh or not zh[t].string]
        assert missing == [], (pilot, missing[:3])


@pytest.mark.parametrize("pilot", sorted(PILOTS))
async def test_a_pilot_reads_in_chinese_and_its_twin_as_written(
    client: httpx.AsyncClient, pilot: str
) -> None:
    zh = catalog("zh")
    client.cookies.set(LANG_COOKIE, "zh")
    page = await client.get(f"/schemes/{pilot}")
    assert page.status_code == 200
    text = Page(page.text).text
    loaded = load_scheme(PILOTS[pilot])
    assert _words(str(zh[loaded.scheme.name].string)) in text
    shown = 0
    for english in _texts(PILOTS[pilot]):
        chinese = _words(str(zh[english].string))
        if chinese == english:  # a grade's name or band: an identifier, the same in both
            continue
        assert _words(english) not in text, (pilot, english)
        shown += chinese in text
    assert shown >= 3, pilot  # the name, the description and at least one rule, list or measure
    twin = (await client.get(f"/schemes/{pilot}.json")).json()
    assert twin["name"] == loaded.scheme.name
    assert twin["description"] == loaded.scheme.description


async def test_a_sanctions_legal_basis_reads_in_chinese(client: httpx.AsyncClient) -> None:
    zh = catalog("zh")
    client.cookies.set(LANG_COOKIE, "zh")
    loaded = load_scheme(PILOTS["judgment-defaulters"])
    text = Page((await client.get("/schemes/judgment-defaulters")).text).text
    bases = [m.basis for m in loaded.scheme.measures if m.basis]
    assert bases
    for basis in bases:
        assert _words(str(zh[basis].string)) in text
        assert basis not in text
    assert "失信被执行人" in text


async def test_a_deployments_own_scheme_reads_as_written(client: httpx.AsyncClient) -> None:
    assert OWN_NAME not in catalog("zh")
    for language in ("zh", "en"):
        client.cookies.set(LANG_COOKIE, language)
        page = await client.get(f"/schemes/{OWN_ID}")
        assert page.status_code == 200
        assert OWN_NAME in Page(page.text).text
