"""The bundled Chinese font, so that pages and plots show Chinese on a machine without one.

``XinyongSansSC-Regular.ttf`` (here, for matplotlib) and its WOFF2 twin (``web/static/fonts``,
for the portal) are a subset of Noto Sans SC under the SIL Open Font License 1.1 (``OFL.txt``
beside each): GB2312 level 1, ASCII, CJK punctuation, full-width forms and every CJK character
in the package's files, renamed "Xinyong Sans SC". ``tools/build_fonts.py`` rebuilds them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CJK_FAMILY", "CJK_TTF", "use_cjk_font"]

CJK_TTF = Path(__file__).with_name("XinyongSansSC-Regular.ttf")
CJK_FAMILY = "Xinyong Sans SC"


def use_cjk_font() -> None:
    """Make matplotlib draw Chinese with the bundled font: Latin text keeps matplotlib's default
    font, and each glyph it lacks falls back to the bundled one (matplotlib 3.6+)."""
    import matplotlib as mpl
    from matplotlib import font_manager

    if CJK_FAMILY not in {entry.name for entry in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(CJK_TTF))
    families = [f for f in mpl.rcParams["font.family"] if f != CJK_FAMILY]
    mpl.rcParams["font.family"] = [*families, CJK_FAMILY]  # fallback goes down this list
