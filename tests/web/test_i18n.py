"""The portal in Chinese and English: every message has its translation, and a request gets the
language it asks for (the switch, then its cookie, then Accept-Language)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.support.web_fixtures import Portal, seed_portal
from xinyong.i18n import LOCALE_DIR, catalog, local_date
from xinyong.web.i18n import LANG_COOKIE, chosen_language

ROOT = Path(__file__).resolve().parents[2]
FRAGMENTS = sorted((LOCALE_DIR / "zh_Hans" / "LC_MESSAGES").glob("*.po"))


def _extracted() -> dict[str, tuple[str, ...]]:
    """Every message of the templates and the web package, as ``babel.cfg`` extracts them."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found: dict[str, tuple[str, ...]] = {}
    for filename, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        ids = (message,) if isinstance(message, str) else tuple(message)
        found.setdefault(ids[0], ids)
        assert ids[0], filename
    return found


@pytest.fixture(scope="module")
def extracted() -> dict[str, tuple[str, ...]]:
    return _extracted()


def test_every_message_of_the_portal_has_its_chinese(extracted: dict[str, tuple[str, ...]]) -> None:
    zh = catalog("zh")
    missing = [m for m in extracted if m not in zh or not zh[m].string]
    assert missing == [], f"{len(missing)} messages without Chinese, the first: {missing[:5]}"
    fuzzy = [m.id for m in zh if m.id and m.fuzzy]
    assert fuzzy == []
    for message in zh:
        if message.id and isinstance(message.string, tuple):
            assert all(message.string), message.id
    problems = [(m.id, errors) for m, errors in zh.check() if errors]
    assert problems == []  # placeholders (%(name)s) the same in both languages
    stale = [
        m.id for m in zh if m.id and (m.id[0] if isinstance(m.id, tuple) else m.id) not in extracted
    ]
    assert stale == [], f"translations of messages no page has any more: {stale[:5]}"


def test_a_message_has_one_translation_across_the_catalog_files() -> None:
    assert FRAGMENTS
    seen: dict[str, tuple[Path, object]] = {}
    for path in FRAGMENTS:
        with path.open("rb") as file:
            part: Catalog = read_po(file, locale="zh_Hans")
        for message in part:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            if key in seen:
                assert seen[key][1] == message.string, (key, seen[key][0], path)
            seen[key] = (path, message.string)


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "chosen"),
    [
        ({}, {}, "", "en"),
        ({}, {}, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ({}, {}, "en-GB,en;q=0.9,zh-CN;q=0.5", "en"),
        ({}, {}, "fr-FR, zh-Hans;q=0.7", "zh"),
        ({}, {}, "zh-TW", "zh"),
        ({}, {}, "de, *;q=0.1", "en"),
        ({}, {}, ";;;q=x,,zh;q=abc", "en"),
        ({}, {}, "zh;q=0, en;q=0.5", "en"),  # q=0: not acceptable
        ({}, {LANG_COOKIE: "zh"}, "en", "zh"),
        ({"lang": "en"}, {LANG_COOKIE: "zh"}, "zh-CN", "en"),
        ({"lang": "xx"}, {LANG_COOKIE: "yy"}, "zh-CN", "zh"),
    ],
)
def test_the_language_of_a_request(
    query: dict[str, str], cookie: dict[str, str], accept: str, chosen: str
) -> None:
    assert chosen_language(query, cookie, accept) == chosen


def test_dates_are_written_as_each_language_writes_them() -> None:
    assert local_date(date(2026, 12, 3), "en") == "2026-12-03"
    assert local_date("2026-12-03", "zh") == "2026年12月3日"
    assert local_date("not a date", "zh") == "not a date"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    seeded = seed_portal(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    yield seeded
    seeded.service.engine.dispose()


@pytest.mark.anyio
async def test_the_portal_answers_in_the_language_asked_for(portal: Portal) -> None:
    async with portal.service.client() as client:
        english = await client.get("/")
        assert english.headers["content-language"] == "en"
        assert "Accept-Language" in english.headers["vary"]
        assert '<html lang="en">' in english.text
        assert "Public credit lists" in english.text
        assert 'href="/?lang=zh"' in english.text  # the switch
        chinese = await client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert chinese.headers["content-language"] == "zh-Hans"
        assert '<html lang="zh-Hans">' in chinese.text
        assert "公开信用名单" in chinese.text
        assert "Public credit lists" not in chinese.text
        switched = await client.get("/?lang=zh")
        assert "公开信用名单" in switched.text
        assert switched.cookies.get(LANG_COOKIE) == "zh"
        kept = await client.get("/transparency")  # the cookie keeps the choice
        assert '<html lang="zh-Hans">' in kept.text
        back = await client.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
        assert "Public credit lists" in back.text
        twin = await client.get("/index.json", headers={"Accept-Language": "zh-CN"})
        assert twin.json()["schemes"]  # the JSON twins are data, the same in every language
