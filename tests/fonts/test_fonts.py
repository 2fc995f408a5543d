"""The bundled Chinese font covers what xinyong writes, and matplotlib draws Chinese with it."""

from __future__ import annotations

import base64
import io
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from fontTools.ttLib import TTFont
from matplotlib.ft2font import FT2Font

from xinyong.fonts import CJK_FAMILY, CJK_TTF, font_face_css, use_cjk_font

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "xinyong"
WOFF2 = PACKAGE / "web" / "static" / "fonts" / "XinyongSansSC-Regular.woff2"
TEXT = {".py", ".toml", ".html", ".po", ".txt", ".json", ".csv", ".md"}


def _gb2312_level1() -> set[str]:
    return {
        bytes([high, low]).decode("gb2312")
        for high in range(0xB0, 0xD8)
        for low in range(0xA1, 0xFF)
        if not (high == 0xD7 and low > 0xF9)
    }


def test_the_font_covers_gb2312_level_1_and_every_chinese_character_xinyong_writes() -> None:
    """Names, pilots, pages and translations: a character added to the package without
    rebuilding the font (tools/build_fonts.py) fails here, naming it."""
    mapped = {chr(code) for code in FT2Font(str(CJK_TTF)).get_charmap()}
    assert len(_gb2312_level1()) == 3755
    assert _gb2312_level1() <= mapped
    written = {
        char
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix in TEXT
        for char in path.read_text(encoding="utf-8", errors="ignore")
        if 0x3400 <= ord(char) <= 0x9FFF
    }
    assert len(written) > 100  # the synthetic names alone
    assert written - mapped == set()


def test_both_files_are_shipped_with_the_licence() -> None:
    assert WOFF2.read_bytes()[:4] == b"wOF2"
    for folder in (CJK_TTF.parent, WOFF2.parent):
        assert "SIL OPEN FONT LICENSE VERSION 1.1" in (folder / "OFL.txt").read_text().upper()
    assert FT2Font(str(CJK_TTF)).family_name == CJK_FAMILY


def test_matplotlib_draws_chinese_without_missing_glyphs() -> None:
    use_cjk_font()
    use_cjk_font()  # idempotent
    figure, axes = plt.subplots()
    try:
        axes.set_title("信用 黑名单 red list 怡梓鑫鹭 4.2")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is a UserWarning
            figure.savefig(io.BytesIO(), format="png")
            figure.savefig(io.StringIO(), format="svg")
    finally:
        plt.close(figure)
    assert matplotlib.rcParams["font.family"].count(CJK_FAMILY) == 1


def test_a_page_embeds_the_font_cut_down_to_its_chinese() -> None:
    """``font_face_css``: a data: URL of the bundled font holding the page's Chinese only (tens
    of kilobytes, not the whole font), the same bytes for the same text; nothing for a page
    without Chinese."""
    assert font_face_css("An English page: 1,000 scored — “quoted”.") == ""
    text = "信用报告：黑名单（汇总）、怡梓鑫鹭 and English"
    rule = font_face_css(text)
    assert rule == font_face_css(text)
    assert f'font-family: "{CJK_FAMILY}"' in rule
    assert "unicode-range: U+2E80-9FFF" in rule
    found = re.search(r'url\("data:font/woff;base64,([A-Za-z0-9+/=]+)"\) format\("woff"\)', rule)
    assert found is not None
    woff = base64.b64decode(found.group(1))
    assert woff[:4] == b"wOFF"
    assert len(woff) < 20_000
    mapped = {chr(code) for code in TTFont(io.BytesIO(woff)).getBestCmap()}
    assert mapped == {char for char in text if ord(char) >= 0x2E80}
