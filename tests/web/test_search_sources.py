"""The search across every public list: the count of each list it found entries on, and one
list's results on their own."""

from __future__ import annotations

import pytest

from tests.support.service_fixtures import PERSON
from tests.support.web_fixtures import Portal

pytestmark = pytest.mark.anyio


async def test_a_search_counts_its_sources_and_narrows_to_one(local_portal: Portal) -> None:
    async with local_portal.service.client() as public:
        everything = (await public.get("/search.json", params={"q": PERSON})).json()
        sources = everything["sources"]
        assert sources, everything
        assert sources == {f["source"]: f["total"] for f in everything["lists"]}
        chosen = next(iter(sources))
        one = (await public.get("/search.json", params={"q": PERSON, "source": chosen})).json()
        assert [f["source"] for f in one["lists"]] == [chosen]
        assert one["sources"] == sources  # the other lists stay on offer
        none = await public.get("/search.json", params={"q": PERSON, "source": "nope/none"})
        assert none.json()["lists"] == []
        for refused in ("no-slash", "UPPER/list", "a/" + "x" * 200):
            answer = await public.get("/search.json", params={"q": PERSON, "source": refused})
            assert answer.status_code == 422, refused
        page = await public.get("/search", params={"q": PERSON, "source": chosen, "lang": "zh"})
        assert page.status_code == 200
        assert 'name="source"' in page.text
        assert "来源名单" in page.text
