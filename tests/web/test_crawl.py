"""Every page of the portal, in Chinese and in English, in Chromium on a phone (390 px wide).

A crawl starts from the home page of a seeded, served portal and follows every same-origin link
breadth-first, the language switch too, and the public pages that nothing links to (a search
with a query, the error pages). A second crawl signs in through the login form as the listed
subject and as the operator and walks their file and the console. On every page:

(a) a Chinese page says nothing in English: no visible text is a message of the gettext
    catalogs left untranslated, and no text holds a sentence of three English words or more
    (outside code, identifiers, URLs, the seed's names and the scheme's own text);
(b) no request leaves the origin;
(c) nothing scrolls sideways at 390 px, except an element that scrolls on its own and says so;
(d) no 5xx answer, no console error.

Every problem of a crawl is collected and reported at once, page by page, element by element.
"""

from __future__ import annotations

import functools
import html
import re
import tomllib
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from tests.support.browser import (
    CHROMIUM,
    LANGUAGES,
    PHONE,
    Live,
    Watched,
    sign_in_with_key,
    watch,
)
from tests.support.overridden import OFFICIAL, REASON
from tests.support.service_fixtures import OTHER, PERSON, SCHEME
from tests.support.web_fixtures import OTHER_NAME, PERSON_NAME, RECORDS
from xinyong.i18n import catalog
from xinyong.web import ROUTERS
from xinyong.web.i18n import html_lang

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it)",
    ),
]

MAX_PER_ROUTE: Final = 6
"""Pages of one route in one language: enough for a list's sort, facets and pages and for
every entry of the seed, few enough that the crawl stays under a minute when a list grows."""
PUBLIC_STARTS: Final = (
    "/",
    f"/search?q={OTHER_NAME}",  # the search of every list, with a result
    "/search?q=nobody-by-this-name",  # and without one
    "/lists/rongcheng/blacklist?per_page=1",  # a list of two pages: its page links
    f"/lists/rongcheng/blacklist?q={OTHER_NAME}&order=oldest&kind=person&year=2025",
    "/lists/rongcheng/no-such-list",  # 404 pages
    "/lists/rongcheng/blacklist/no-such-entry",
    "/schemes/no-such-scheme",
    "/no-such-page",
)
"""Public pages no link leads to (forms lead to them), visited first in both languages."""
SIGNED_IN: Final = {"subject": "/me", "operator": "/console"}
"""Who signs in, and where the signed-in crawl walks: their own area (the public pages are the
other crawl's)."""
DOWNLOADS: Final = (".json", ".csv")
API: Final = "/v1/"
SEED_TEXT: Final = (
    PERSON_NAME,
    OTHER_NAME,
    PERSON,
    OTHER,
    "Li Na",  # an operator's name (service_fixtures' keys)
    "ticket sales",  # the airline's purpose, written by the operator
    OFFICIAL,  # who overrode the example scheme's findings, and why, as they wrote it
    REASON,
)
"""The seed's names and ids: data, shown as entered, never a message."""
NON_MESSAGES: Final = (
    "xinyong",  # the brand, next to 信用 in every header
    "JSON",  # a format's name (“本页的 JSON 版本”)
    "CSV",  # a format's name
)
"""Words that are the same in every language; each a name, not a message."""
QUIET: Final = "script, style, template, noscript, code, pre, kbd, samp, var, [translate=no]"
"""Where English is expected on a Chinese page: code, and what says it is not to be translated
(text marked ``lang`` other than Chinese is skipped too)."""

# What a page shows, where, and what it does at 390 px: one call into the page per visit.
_LOOK = """
quiet => {
  const describe = el => {
    const parts = [];
    for (let e = el; e && e !== document.documentElement && parts.length < 4; e = e.parentElement) {
      let part = e.localName;
      if (e.id) { parts.unshift(part + "#" + e.id); break; }
      if (e.classList.length) part += "." + [...e.classList].join(".");
      parts.unshift(part);
    }
    return parts.join(" > ");
  };
  const foreign = el => {
    const holder = el.closest("[lang]");
    const own = document.documentElement.lang.slice(0, 2);
    return holder !== null && !holder.lang.toLowerCase().startsWith(own);
  };
  const texts = [{text: document.title, where: "title"}];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.data.replace(/\\s+/g, " ").trim();
    if (text && !el.closest(quiet) && !foreign(el)) texts.push({text, where: describe(el)});
  }
  const said = ["aria-label", "aria-description", "title", "alt", "placeholder", "data-label"];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(quiet) || foreign(el)) continue;
    for (const name of said) {
      const text = (el.getAttribute(name) || "").replace(/\\s+/g, " ").trim();
      if (text) texts.push({text, where: `${describe(el)} [${name}]`});
    }
    if (el.matches("input[type=submit], input[type=button], input[type=reset]") && el.value)
      texts.push({text: el.value, where: `${describe(el)} [value]`});
  }
  const named = el => {
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean);
    const by = ids.map(id => document.getElementById(id)?.textContent || "").join(" ");
    const caption = el.querySelector("caption")?.textContent || "";
    return (el.getAttribute("aria-label") || by || caption).replace(/\\s+/g, " ").trim();
  };
  const root = document.scrollingElement;
  const width = root.clientWidth;
  const scrolling = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const clipped = el => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement)
      if (getComputedStyle(e).overflowX !== "visible") return true;
    return false;
  };
  // reached by keyboard: the box takes the focus, or something in it does (arrow keys then
  // scroll it), as axe's scrollable-region-focusable asks
  const focusable = "a[href], button, input, select, textarea, summary, [tabindex]";
  const reachable = el => el.tabIndex >= 0 || [...el.querySelectorAll(focusable)]
    .some(inner => inner.tabIndex >= 0);
  const scrollers = [];
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (scrolling(el) && el.scrollWidth > el.clientWidth + 1)
      scrollers.push({where: describe(el), name: named(el), focusable: reachable(el),
                      inner: el.scrollWidth, outer: el.clientWidth});
    // what sticks out past the phone's edge: a box wider than its parent allows, or a box whose
    // own content overflows it (a long line of a <pre>), unless an ancestor clips it
    const box = el.getBoundingClientRect();
    const parent = el.parentElement.getBoundingClientRect();
    const content = getComputedStyle(el).overflowX === "visible" ? box.left + el.scrollWidth : 0;
    const right = Math.max(parent.right <= width + 1 ? box.right : 0, content);
    if (right > width + 1 && box.width > 0 && !clipped(el))
      wide.push({el, where: describe(el), right: Math.round(right)});
  }
  const links = [...document.querySelectorAll("a[href]")].map(a => ({
    href: a.href, download: a.hasAttribute("download")}));
  const deepest = wide.filter(w => !wide.some(o => o.el !== w.el && w.el.contains(o.el)))
    .map(({where, right}) => ({where, right}));
  const icon = document.querySelector("link[rel~=icon]")?.href || null;
  return {lang: document.documentElement.lang, texts, links, scrollers, wide: deepest, icon,
          scrollWidth: root.scrollWidth, clientWidth: width};
}
"""


# -- (a) what a Chinese page must not say ---------------------------------------------------------

_WORD = r"[A-Za-z]+(?:['’-][A-Za-z]+)*"
_RUN = re.compile(rf"{_WORD}(?:[\s,;:'\"“”‘’()&]+{_WORD})+")
_PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|%[sdr]|\{\w*\}")
_NOT_WORDS = re.compile(
    r"\S+://\S+"  # URLs
    r"|(?<!\S)/\S*"  # paths (API paths, /static/...)
    r"|\S*[\d_@]\S*"  # identifiers, hashes, keys, numbers and dates
    r"|\b[A-Za-z]+(?:[.:][A-Za-z]+)+\b"  # dotted codes (court.breach_judgment)
)
_BREAK: Final = "\x00"


def _scheme_text() -> set[str]:
    """Every string of the example scheme: its name, descriptions, legal bases and ids are
    written by the operator in their language, and shown as written."""

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    return set(strings(tomllib.loads(SCHEME.read_text(encoding="utf-8"))))


def _record_text() -> set[str]:
    """The seed's records, as a source sent them: ids, codes, case ids, attribute values."""
    found: set[str] = set()
    for record in RECORDS:
        for key, value in record.items():
            if key == "attrs":
                assert isinstance(value, dict)
                found |= {str(name) for name in value} | {str(item) for item in value.values()}
            else:
                found.add(str(value))
    return found


@functools.cache
def _data() -> re.Pattern[str]:
    """The seed's names, ids and scheme text and the words that are the same in Chinese, longest
    first, as one pattern; not a single letter (a grade “A” is no message, but taken out of
    “A later record of …” it would shorten the sentence)."""
    texts = {*SEED_TEXT, *_scheme_text(), *_record_text(), *NON_MESSAGES}
    alternatives = sorted((t for t in texts if len(t.strip()) > 1), key=len, reverse=True)
    # ASCII bounds: a name may run straight into Chinese (“…values)的黑名单”)
    bounds = (r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_-])")
    return re.compile("|".join(bounds[0] + re.escape(t) + bounds[1] for t in alternatives))


@dataclass(frozen=True)
class Messages:
    """The English messages of the catalogs, as text a page can show: each message cut at its
    HTML tags (a text node is one piece), its placeholders matching anything."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    any: re.Pattern[str]

    def which(self, text: str) -> str | None:
        """The message ``text`` is, if it is one."""
        if not self.any.fullmatch(text):
            return None
        return next(message for message, pattern in self.patterns if pattern.fullmatch(text))


@functools.cache
def _messages() -> Messages:
    """Each English message of the Chinese catalog whose Chinese differs from it (a message kept
    the same in Chinese, like a format's name, is not one left untranslated)."""
    found: dict[str, re.Pattern[str]] = {}
    for message in catalog("zh"):
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else [*(message.string or ())]
        for msgid in ids:
            if not msgid or msgid in strings:
                continue
            for cut in re.split(r"<[^>]+>", html.unescape(msgid)):
                piece = " ".join(cut.split())
                literal = _PLACEHOLDER.split(piece)
                words = re.findall(_WORD, _NOT_WORDS.sub(_BREAK, " ".join(literal)))
                if len(words) < (2 if len(literal) > 1 else 1):
                    continue  # a path, or a word around a placeholder: it would match anything
                pattern = r"(.+?)".join(re.escape(part) for part in literal)
                found.setdefault(piece, re.compile(pattern))
    return Messages(
        tuple(found.items()), re.compile("|".join(f"(?:{p.pattern})" for p in found.values()))
    )


@functools.cache
def untranslated(text: str) -> tuple[str, ...]:
    """Why ``text``, shown on a Chinese page, is English: the catalog message it is, or the run of
    English words in it that a message is or that is a sentence (three words or more)."""
    if _data().fullmatch(text):
        return ()
    message = _messages().which(text)
    if message is not None:
        return (f"the message “{message}” untranslated",)
    words = _NOT_WORDS.sub(_BREAK, _data().sub(_BREAK, text))
    found = []
    for match in _RUN.finditer(words):
        run = match.group(0).strip(" ,;:'\"“”‘’()&")
        message = _messages().which(run)
        if message is not None:
            found.append(f"the message “{message}” untranslated in it")
        elif len(re.findall(_WORD, run)) >= 3:
            found.append(f"English “{run}”")
    return tuple(found)


def test_the_heuristic_finds_english_and_spares_data() -> None:
    """The detector itself, on text the portal shows: messages and sentences are found; names,
    ids, codes, paths, dates and the scheme's own words are not."""
    assert untranslated("Sign in") == ("the message “Sign in” untranslated",)
    assert untranslated("open") == ("the message “open” untranslated",)
    assert untranslated("There is no active scheme 'nope'.")  # a message with a placeholder
    assert untranslated("此记录 was never disputed here 已公开")  # a sentence in the middle
    assert untranslated("Rongcheng-style citizen points (example values)") == ()
    assert untranslated(f"{PERSON_NAME}（{PERSON}）") == ()
    assert untranslated("规则 court.breach_judgment 于 2025年5月1日") == ()
    assert untranslated("公钥（/v1/ledger/public-key）") == ()
    assert untranslated("xinyong 信用") == ()
    assert untranslated("本页的 JSON 版本。") == ()
    assert untranslated("哈希 3f9a_c2 与 AAA 等级") == ()


# -- the crawl ------------------------------------------------------------------------------------


@functools.cache
def _routes() -> tuple[APIRoute, ...]:
    """The portal's HTML pages (every JSON twin, CSV and download is another kind of route)."""
    return tuple(
        route
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        and "GET" in (route.methods or ())
        and route.response_class is HTMLResponse
    )


def route_of(path: str) -> str:
    """The route template serving ``path``, or the path itself when no page route does."""
    return next((r.path for r in _routes() if r.path_regex.fullmatch(path)), path)


def page_routes(area: tuple[str, ...]) -> set[str]:
    """The route templates of the pages under ``area`` (prefixes)."""
    return {route.path for route in _routes() if route.path.startswith(area)}


def crawl_key(url: str) -> str:
    """A same-origin URL as the crawl knows a page: path and sorted query, without ``lang`` (the
    language is the visit's) or fragment."""
    split = urlsplit(url)
    query = sorted(parse_qsl(split.query, keep_blank_values=True))
    kept = urlencode([(k, v) for k, v in query if k != "lang"])
    return split.path + (f"?{kept}" if kept else "")


@dataclass(frozen=True)
class Visit:
    """A page to see: where the link points, in which language, and where it was found."""

    url: str
    """As linked, relative to the origin: the language switch's links keep their ``lang``."""
    language: str
    source: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.language, crawl_key(self.url))


@dataclass
class Tab:
    """A browser context of its own per language, as a person reading in it: its cookie keeps
    the language the switch chose, so links without ``lang`` open in it."""

    page: Page
    seen: Watched
    heard: int = 0
    """Console errors and 5xx answers up to here are reported (with the page they came in)."""
    answered: int = 0


@dataclass
class Crawl:
    """Walking the portal breadth-first in a tab per language, and what it found."""

    live: Live
    tabs: dict[str, Tab]
    area: tuple[str, ...] | None
    """Paths the crawl follows links into (``None``: every same-origin path)."""
    who: str = "public"
    visited: set[tuple[str, str]] = field(default_factory=set)
    fetched: set[str] = field(default_factory=set)
    broken_icons: set[str] = field(default_factory=set)
    per_route: Counter[tuple[str, str]] = field(default_factory=Counter)
    covered: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def run(self, starts: Iterable[Visit]) -> None:
        """See every page reachable from ``starts``, each route at most :data:`MAX_PER_ROUTE`
        times per language."""
        queue = deque(starts)
        while queue:
            visit = queue.popleft()
            route = (visit.language, route_of(urlsplit(visit.url).path))
            if visit.key in self.visited or self.per_route[route] >= MAX_PER_ROUTE:
                continue
            self.visited.add(visit.key)
            self.per_route[route] += 1
            queue.extend(self.see(visit))

    def see(self, visit: Visit) -> list[Visit]:
        """Open the page in its language's tab, check it, and return the pages it links to."""
        tab = self.tabs[visit.language]
        where = f"[{self.who}, {visit.language}] {visit.url} (linked from {visit.source})"
        mark = len(tab.seen.requested)
        response = tab.page.goto(self.live.url + visit.url)
        assert response is not None
        landed = crawl_key(tab.page.url)
        self.visited.add((visit.language, landed))
        self.covered.add((visit.language, route_of(urlsplit(landed).path)))
        problems = self._requests(tab, mark)
        if "text/html" not in response.headers.get("content-type", ""):
            kind = response.headers.get("content-type")
            problems += self._errors(tab, tab.page.url, response.status)
            self._report(where, [*problems, f"is not an HTML page: {response.status} {kind}"])
            return []
        looked: dict[str, Any] = tab.page.evaluate(_LOOK, QUIET)
        problems += self._icon(visit.language, looked["icon"])  # first: its console note known
        problems += self._errors(tab, tab.page.url, response.status)
        problems += _language(looked, visit.language)
        problems += _sideways(looked)
        self._report(where, problems)
        return self._links(looked["links"], visit.language, landed)

    def _requests(self, tab: Tab, mark: int) -> list[str]:
        return [
            f"(b) requested off the origin: {url}"
            for url in tab.seen.requested[mark:]
            if not url.startswith((self.live.url + "/", "data:", "blob:"))
        ]

    def _links(self, links: list[dict[str, Any]], language: str, source: str) -> list[Visit]:
        """The pages the links lead to, each in the language its link asks for (the switch)
        or the page's; downloads, JSON twins and API answers are fetched, not opened."""
        found = []
        for link in links:
            split = urlsplit(link["href"])
            if f"{split.scheme}://{split.netloc}" != self.live.url:
                continue
            if link["download"] or split.path.endswith(DOWNLOADS) or split.path.startswith(API):
                self._fetch(language, link["href"], source)
                continue
            if self.area is not None and not split.path.startswith(self.area):
                continue
            asked = dict(parse_qsl(split.query)).get("lang", language)
            relative = split.path + (f"?{split.query}" if split.query else "")
            found.append(Visit(relative, asked if asked in self.tabs else language, source))
        return found

    def _fetch(self, language: str, url: str, source: str) -> None:
        """A download or API answer the page links to answers without a server error."""
        if url in self.fetched:
            return
        self.fetched.add(url)
        answer = self.tabs[language].page.context.request.get(url)
        if answer.status >= 500:
            where = f"[{self.who}, {language}] {url} (linked from {source})"
            self._report(where, [f"(d) answers {answer.status}"])

    def _errors(self, tab: Tab, url: str = "", status: int = 0) -> list[str]:
        """(d) Console errors and 5xx answers not yet reported (one that came in late, after
        the page before was checked, says where it came from). Not one: the console's note that
        the page itself (``url``) answered 4xx, the error page doing its job; nor that the icon
        is missing, which :meth:`_icon` reports every time."""
        own = f"the server responded with a status of {status}"
        errors, failed = tab.seen.errors[tab.heard :], tab.seen.failed[tab.answered :]
        tab.heard, tab.answered = len(tab.seen.errors), len(tab.seen.failed)
        return [
            f"(d) console error: {error}"
            for error in errors
            if not (400 <= status < 500 and own in error and error.endswith(f"({url})"))
            and not any(error.endswith(f"({icon})") for icon in self.broken_icons)
        ] + [f"(d) server error: {answer}" for answer in failed]

    def _icon(self, language: str, declared: str | None) -> list[str]:
        """(d) The page's icon answers: Chromium asks for it (``/favicon.ico`` when the page
        names none), once per browser and out of the page's sight, and a 404 is a console error
        that comes in whenever it comes; asked here, it is found every time."""
        icon = declared or f"{self.live.url}/favicon.ico"
        if icon in self.fetched:
            return []
        self.fetched.add(icon)
        answer = self.tabs[language].page.context.request.get(icon)
        if answer.ok and answer.headers.get("content-type", "").startswith("image/"):
            return []
        kind = answer.headers.get("content-type")
        self.broken_icons.add(icon)
        return [f"(d) its icon {icon} answers {answer.status} {kind}: a console error in Chromium"]

    def finish(self) -> None:
        """Report what came into the consoles after the last page was checked."""
        for language, tab in self.tabs.items():
            self._report(f"[{self.who}, {language}] after the last page", self._errors(tab))

    def _report(self, where: str, problems: list[str]) -> None:
        self.problems += [f"{where}: {problem}" for problem in problems]


def _language(looked: dict[str, Any], language: str) -> list[str]:
    """The page is in the tab's language and, in Chinese, says nothing in English (a)."""
    problems = []
    if looked["lang"] != html_lang(language):
        problems.append(f"(a) is in {looked['lang']!r}, not {html_lang(language)!r}")
    if language == "zh":
        for text in looked["texts"]:
            for why in untranslated(text["text"]):
                problems.append(f"(a) {text['where']}: {why}: “{text['text']}”")
    return problems


def _sideways(looked: dict[str, Any]) -> list[str]:
    """(c) The page is no wider than the phone; what scrolls sideways on its own says so, in its
    label or caption, and can be reached by keyboard to scroll it."""
    problems = []
    if looked["scrollWidth"] > looked["clientWidth"]:
        culprits = ", ".join(f"{w['where']} (to {w['right']} px)" for w in looked["wide"][:5])
        problems.append(
            f"(c) scrolls sideways: {looked['scrollWidth']} px wide in {looked['clientWidth']}; "
            f"sticking out: {culprits or 'unknown'}"
        )
    for box in looked["scrollers"]:
        says = re.search(r"scroll|滚动|滑动", box["name"], re.IGNORECASE)
        if not (says and box["focusable"]):
            problems.append(
                f"(c) {box['where']} scrolls sideways ({box['inner']} px in {box['outer']}) "
                f"without saying so or being reached by keyboard: label “{box['name']}”, "
                f"reached {box['focusable']}"
            )
    return problems


@contextmanager
def crawling(
    browser: Browser, live: Live, area: tuple[str, ...] | None, who: str
) -> Iterator[Crawl]:
    """A crawl with a phone-sized browser context per language, closed when it is done."""
    contexts = {language: browser.new_context(viewport=PHONE) for language in LANGUAGES}
    try:
        tabs = {}
        for language, context in contexts.items():
            page = context.new_page()
            tabs[language] = Tab(page, watch(page))
        crawl = Crawl(live, tabs, area, who)
        yield crawl
        crawl.finish()
    finally:
        for context in contexts.values():
            context.close()


def _missing(crawl: Crawl, routes: set[str]) -> list[str]:
    """Each route of ``routes`` the crawl did not see in a language: every page is to be seen
    in both."""
    return [
        f"[{crawl.who}, {language}] {route}: not seen (no link leads to it)"
        for route in sorted(routes)
        for language in LANGUAGES
        if (language, route) not in crawl.covered
    ]


def test_every_public_page_in_both_languages(live: Live, browser: Browser) -> None:
    """From the home page, chosen in each language with the switch's ``?lang=``, every public
    page reachable without signing in, in both languages; every public route seen in each."""
    homes = [Visit(f"/?lang={language}", language, "(start)") for language in LANGUAGES]
    starts = [Visit(path, language, "(start)") for path in PUBLIC_STARTS for language in LANGUAGES]
    with crawling(browser, live, None, "public") as crawl:
        crawl.run([*homes, *starts])
    public = page_routes(("/",)) - page_routes(tuple(SIGNED_IN.values()))
    problems = _missing(crawl, public) + crawl.problems
    assert not problems, "\n".join(problems)


def test_the_subjects_file_and_the_console_in_both_languages(live: Live, browser: Browser) -> None:
    """Signed in through the login form, the subject's file (after filing an objection, so that
    the console has one to show) and the console, in both languages."""
    problems: list[str] = []
    for role, home in SIGNED_IN.items():
        with crawling(browser, live, (home,), role) as crawl:
            for language, tab in crawl.tabs.items():  # both first: the switch leads across
                sign_in_with_key(tab.page, live, role, language)
            if role == "subject":
                _object(crawl, crawl.tabs[LANGUAGES[0]], LANGUAGES[0])
            crawl.run([Visit(home, language, "(signed in)") for language in LANGUAGES])
        problems += _missing(crawl, page_routes((home,))) + crawl.problems
    assert not problems, "\n".join(problems)


def _object(crawl: Crawl, tab: Tab, language: str) -> None:
    """The subject objects to a record through the form on their file, and the crawl sees the
    page that says so."""
    tab.page.goto(f"{crawl.live.url}/me")
    if not tab.page.locator("#objection-record").count():
        crawl.problems.append(f"[subject, {language}] /me: no form to object to a record")
        return
    tab.page.locator("#objection-record").select_option("bank/d1")
    tab.page.locator("#objection-reason").fill("这笔贷款不是我的。")
    tab.page.locator('form[action="/me/objections"] button[type="submit"]').click()
    tab.page.wait_for_url(lambda url: "done=" in url)
    done = urlsplit(tab.page.url)
    crawl.run([Visit(f"{done.path}?{done.query}", language, "(the objection form)")])
