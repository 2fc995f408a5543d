"""The bundled Chinese font, so that pages and plots show Chinese on a machine without one.

``XinyongSansSC-Regular.ttf`` (here, for matplotlib) and its WOFF2 twin (``web/static/fonts``,
for the portal) are a subset of Noto Sans SC under the SIL Open Font License 1.1 (``OFL.txt``
beside each): GB2312 level 1, ASCII, CJK punctuation, full-width forms and every CJK character
in the package's files, renamed "Xinyong Sans SC". ``tools/build_fonts.py`` rebuilds them.

A single HTML file meant to open offline (the lab's report) embeds the font with
:func:`font_face_css`: cut down to the characters of that page, so it weighs tens of kilobytes
rather than the whole font's megabyte.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

__all__ = ["CJK_FAMILY", "CJK_RANGES", "CJK_TTF", "font_face_css", "use_cjk_font"]

CJK_TTF = Path(__file__).with_name("XinyongSansSC-Regular.ttf")
CJK_FAMILY = "Xinyong Sans SC"
CJK_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))
"""The code points a page draws with the bundled font (the portal's CSS ``unicode-range``):
hanzi, CJK punctuation and full-width forms; Latin text keeps the system's font."""
_CJK_CHARACTER = re.compile(
    "[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES) + "]"
)


def use_cjk_font() -> None:
    """Make matplotlib draw Chinese with the bundled font: Latin text keeps matplotlib's default
    font, and each glyph it lacks falls back to the bundled one (matplotlib 3.6+)."""
    import matplotlib as mpl
    from matplotlib import font_manager

    if CJK_FAMILY not in {entry.name for entry in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(CJK_TTF))
    families = [f for f in mpl.rcParams["font.family"] if f != CJK_FAMILY]
    mpl.rcParams["font.family"] = [*families, CJK_FAMILY]  # fallback goes down this list


def font_face_css(text: str) -> str:
    """A CSS ``@font-face`` rule for :data:`CJK_FAMILY` whose source is a ``data:`` URL of the
    bundled font holding only the CJK characters of ``text`` (WOFF, base64), or ``""`` when
    ``text`` has none: the page then shows Chinese without the network or any installed font.
    Name :data:`CJK_FAMILY` first in the page's ``font-family``: its ``unicode-range`` leaves
    the rest to the next family, and a system font is not always given the chance to fall back
    (a bold system-ui drew Chinese as boxes in Chromium on Debian without CJK fonts)."""
    wanted = set(_CJK_CHARACTER.findall(text))
    if not wanted:
        return ""
    woff = base64.b64encode(_subset(wanted)).decode("ascii")
    ranges = ", ".join(f"U+{low:X}-{high:X}" for low, high in CJK_RANGES)
    return (
        f'@font-face {{ font-family: "{CJK_FAMILY}"; font-weight: normal; '
        f'src: url("data:font/woff;base64,{woff}") format("woff"); unicode-range: {ranges}; }}'
    )


def _subset(characters: set[str]) -> bytes:
    """The bundled font with only ``characters`` (those it has), as WOFF: zlib-compressed, which
    fontTools writes without Brotli (WOFF2 would need it), and every browser reads."""
    from fontTools import subset  # type: ignore[import-untyped]  # matplotlib requires it
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    options = subset.Options()
    options.name_IDs = ["*"]  # keep the licence (13) and its URL (14), as the bundled font does
    font = TTFont(CJK_TTF, recalcTimestamp=False)  # the same text gives the same bytes
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(characters)))
    subsetter.subset(font)
    font.flavor = "woff"
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()
