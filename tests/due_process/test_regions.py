"""The public lists' region facet: the province an identifier names, counted and narrowed by
only as far as the masking policy shows it, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.web_fixtures import Portal
from xinyong.due_process.disclosure import list_facets, public_entries
from xinyong.due_process.masking import MaskingPolicy, OrganizationMask, PersonIdMask
from xinyong.due_process.regions import PROVINCES, region_name
from xinyong.web.lists import active_scheme


def test_every_province_level_division_is_named() -> None:
    assert len(PROVINCES) == 35  # 34 divisions and the synthetic prefix
    assert region_name("44") == "Guangdong"
    assert region_name("99") == "99"


@pytest.mark.parametrize(
    ("policy", "shown"),
    [
        (MaskingPolicy(), {"00": 2}),
        (MaskingPolicy(person_id=PersonIdMask.HIDE_LAST_FOUR), {"00": 2}),
        (MaskingPolicy(person_id=PersonIdMask.HIDDEN), {}),  # nothing the page would not show
        (MaskingPolicy(organization=OrganizationMask.NAME_ONLY), {"00": 2}),
    ],
)
def test_regions_are_counted_as_the_policy_shows_them(
    portal: Portal, policy: MaskingPolicy, shown: dict[str, int]
) -> None:
    ctx = portal.service.app.state.context
    with portal.service.engine.connect() as conn:
        loaded = active_scheme(conn, ctx, "rongcheng")
        facets = list_facets(conn, loaded, "blacklist", ctx.today(), policy)
        assert facets["region"] == shown
        for region, expected in (("00", shown.get("00", 0)), ("11", 0)):
            total, entries = public_entries(
                conn, loaded, "blacklist", ctx.today(), policy=policy, region=region
            )
            assert total == expected == len(entries), region


@pytest.mark.anyio
async def test_the_list_page_narrows_by_region_in_both_languages(portal: Portal) -> None:
    async with portal.service.client() as public:
        listed = (await public.get("/lists/rongcheng/blacklist.json")).json()
        assert listed["facets"]["region"] == {"00": 2}
        assert listed["region_names"] == {"00": "Synthetic (demo data)"}
        for query, total in {"?region=00": 2, "?region=11": 0, "?region=": 2}.items():
            answer = await public.get(f"/lists/rongcheng/blacklist.json{query}")
            assert answer.json()["total"] == total, query
        for refused in ("?region=1", "?region=abc", "?region=001"):
            answer = await public.get(f"/lists/rongcheng/blacklist.json{refused}")
            assert answer.status_code == 422, refused
        zh = await public.get("/lists/rongcheng/blacklist?lang=zh&region=00")
        assert "合成数据（演示）（2）" in zh.text
        assert 'name="region"' in zh.text
        csv = await public.get("/lists/rongcheng/blacklist.csv?region=11")
        assert csv.status_code == 200
        assert len(csv.text.strip().splitlines()) == 1  # the header only
