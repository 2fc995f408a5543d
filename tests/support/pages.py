"""What the web tests look at in a page, and the structure every page must have."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from typing import Any

__all__ = ["Page", "check_page"]


class Page(HTMLParser):
    """What the tests look at in a page: headings, form controls and labels, links, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[tuple[int, str]] = []
        self.controls: list[dict[str, str]] = []
        self.labels: set[str] = set()
        self.forms: list[dict[str, Any]] = []
        self.meta: list[dict[str, str]] = []
        self.links: list[str] = []
        self.scripts: list[str] = []
        self.lang = ""
        self.chunks: list[str] = []
        self._heading: int | None = None
        self._label_depth = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = int(tag[1])
            self.headings.append((self._heading, ""))
        if tag == "label":
            self._label_depth += 1
            if "for" in a:
                self.labels.add(a["for"])
        if tag == "form":
            self.forms.append({**a, "hidden": {}})
        if tag in ("input", "select", "textarea"):
            a["_wrapped"] = "yes" if self._label_depth else ""
            self.controls.append({"tag": tag, **a})
            if a.get("type") == "hidden" and self.forms:
                self.forms[-1]["hidden"][a.get("name", "")] = a.get("value", "")
        if tag == "meta":
            self.meta.append(a)
        if tag in ("a", "link") and "href" in a:
            self.links.append(a["href"])
        if tag == "script":
            self.scripts.append(a.get("src", ""))

    def handle_endtag(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = None
        if tag == "label":
            self._label_depth -= 1

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        if self._heading is not None:
            level, text = self.headings[-1]
            self.headings[-1] = (level, text + data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def check_page(html: str) -> Page:
    """Structure every page must have: one h1 and no skipped heading level, a label for every
    control, a token in every form that posts, a viewport, a language, nothing from elsewhere."""
    page = Page(html)
    assert page.lang == "en"
    assert any(m.get("name") == "viewport" for m in page.meta)
    levels = [level for level, _ in page.headings]
    assert levels.count(1) == 1, page.headings
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), page.headings
    assert all(text.strip() for _, text in page.headings)
    for control in page.controls:
        if control.get("type") in ("hidden", "submit"):
            continue
        labelled = control.get("id") in page.labels or control["_wrapped"]
        assert labelled, f"{control} has no label"
    for form in page.forms:
        if form.get("method") == "post":
            assert form["hidden"].get("csrf") or form["hidden"].get("login_token"), form
    external = [u for u in page.links + page.scripts if re.match(r"(https?:)?//", u)]
    assert not external, external
    return page
