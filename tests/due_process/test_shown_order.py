"""A public list sorted by its name or identifier column sorts what the public sees (the masked
value), so the order tells nothing the masks hide; a list too long to sort that way is refused
with a reason, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.web_fixtures import Portal
from xinyong.domain.refusals import NotAllowed
from xinyong.due_process import disclosure
from xinyong.due_process.disclosure import SHOWN_ORDERS, public_entries
from xinyong.due_process.masking import MaskingPolicy, PersonIdMask, PersonNameMask
from xinyong.web.i18n import LANG_COOKIE
from xinyong.web.lists import active_scheme

HIDDEN = MaskingPolicy(person_id=PersonIdMask.HIDDEN, person_name=PersonNameMask.HIDDEN)


def _ordered(portal: Portal, order: str, policy: MaskingPolicy) -> list[disclosure.PublicEntry]:
    ctx = portal.service.app.state.context
    with portal.service.engine.connect() as conn:
        loaded = active_scheme(conn, ctx, "rongcheng")
        total, entries = public_entries(
            conn, loaded, "blacklist", ctx.today(), policy=policy, order=order
        )
    assert total == len(entries) == 2
    return entries


def test_names_sort_as_shown_both_ways(portal: Portal) -> None:
    up = _ordered(portal, "name", MaskingPolicy())
    assert [e.name for e in up] == ["李*", "王**"]  # by the family name the page shows
    down = _ordered(portal, "name-desc", MaskingPolicy())
    assert [e.name for e in down] == ["王**", "李*"]
    full = _ordered(portal, "name", MaskingPolicy(person_name=PersonNameMask.FULL))
    assert [e.name for e in full] == ["李四", "王小明"]


@pytest.mark.parametrize("order", sorted(SHOWN_ORDERS))
def test_what_is_hidden_never_orders(portal: Portal, order: str) -> None:
    """Nothing shown: every entry ties, so they keep the order of their random ids, whichever
    way the hidden names and identifiers would sort."""
    entries = _ordered(portal, order, HIDDEN)
    assert {e.name for e in entries} == {"***"}
    assert [e.entry_id for e in entries] == sorted(e.entry_id for e in entries)


def test_identifiers_sort_as_shown(portal: Portal) -> None:
    up = _ordered(portal, "identifier", MaskingPolicy())
    down = _ordered(portal, "identifier-desc", MaskingPolicy())
    shown = [e.subject for e in up]
    assert all("*" in s for s in shown)  # the masked identifier, never the full one
    assert shown == sorted(shown)
    if len(set(shown)) == 2:
        assert [e.subject for e in down] == shown[::-1]


def test_a_list_too_long_to_sort_is_refused_with_a_reason(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(disclosure, "SORT_LIMIT", 1)
    with pytest.raises(NotAllowed, match="narrow the list first"):
        _ordered(portal, "name", MaskingPolicy())
    assert len(_ordered(portal, "newest", MaskingPolicy())) == 2  # other orders unaffected


def test_a_search_too_broad_to_sort_is_refused_not_cut(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first candidates of a search, by random id, are no order: refused, as a list."""
    monkeypatch.setattr(disclosure, "SEARCH_CANDIDATES", 0)
    ctx = portal.service.app.state.context
    with portal.service.engine.connect() as conn:
        loaded = active_scheme(conn, ctx, "rongcheng")
        with pytest.raises(NotAllowed, match="narrow the list first"):
            public_entries(conn, loaded, "blacklist", ctx.today(), query="王", order="name")
        # other orders keep the first candidates, as a search always has
        assert public_entries(conn, loaded, "blacklist", ctx.today(), query="王")[0] == 0


@pytest.mark.anyio
async def test_the_page_offers_the_shown_columns_and_says_why_not(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with portal.service.client() as public:
        page = await public.get("/lists/rongcheng/blacklist")
        assert 'value="name"' in page.text
        assert 'value="identifier-desc"' in page.text
        twin = (await public.get("/lists/rongcheng/blacklist.json?order=name")).json()
        assert [e["name"] for e in twin["entries"]] == ["李*", "王**"]
        assert twin["order_refused"] is None
        csv = await public.get("/lists/rongcheng/blacklist.csv?order=name-desc")
        assert csv.text.index("王**") < csv.text.index("李*")

        monkeypatch.setattr(disclosure, "SORT_LIMIT", 1)
        # Too long to sort: the entries newest first, and why (in the results htmx swaps in).
        twin = (await public.get("/lists/rongcheng/blacklist.json?order=name")).json()
        assert twin["order"] == "newest"
        assert twin["total"] == 2
        assert "narrow the list first" in twin["order_refused"]
        public.cookies.set(LANG_COOKIE, "zh")
        shown = await public.get("/lists/rongcheng/blacklist?order=name")
        assert shown.status_code == 200
        results = shown.text[shown.text.index('id="results"') :]
        assert "请先缩小名单范围" in results
        assert "未按要求排序" in results
        csv = await public.get("/lists/rongcheng/blacklist.csv?order=name")
        assert csv.status_code == 422  # a download is what was asked, or nothing
