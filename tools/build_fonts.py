"""Build the bundled Chinese font: a subset of Noto Sans SC (SIL Open Font License 1.1).

Pages and plots must show Chinese on a machine without CJK fonts (offline, in a container), so
xinyong ships a subset of Noto Sans SC Regular: GB2312 level 1 (the 3,755 most used hanzi),
ASCII, CJK punctuation and full-width forms, and every CJK character that appears in the
package's own files (the synthetic names, the pilots, the pages and their translations). It is
written twice: as WOFF2 for the portal (``src/xinyong/web/static/fonts``) and as TrueType for
matplotlib (``src/xinyong/fonts``), which cannot read WOFF2. The family is renamed "Xinyong Sans
SC" so that a full Noto Sans SC installed on the machine is never confused with the subset.

The source is the static (not variable) TrueType-outline Noto Sans SC 2.004 of the npm package
``@expo-google-fonts/noto-sans-sc`` 0.4.3 (its ``LICENSE_FONT`` is the OFL text shipped beside
the subsets); a CFF-outline OTF would embed incorrectly in matplotlib's PDFs. To rebuild after
adding Chinese text to the package (a test fails until then)::

    npm pack @expo-google-fonts/noto-sans-sc@0.4.3
    tar xzf expo-google-fonts-noto-sans-sc-0.4.3.tgz package/400Regular package/LICENSE_FONT
    python3 -m venv /tmp/fonts && /tmp/fonts/bin/pip install fonttools brotli
    /tmp/fonts/bin/python tools/build_fonts.py package/400Regular/NotoSansSC_400Regular.ttf
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "xinyong"
TTF = PACKAGE / "fonts" / "XinyongSansSC-Regular.ttf"
WOFF2 = PACKAGE / "web" / "static" / "fonts" / "XinyongSansSC-Regular.woff2"
FAMILY = ("Noto Sans SC", "Xinyong Sans SC")
POSTSCRIPT = ("NotoSansSC", "XinyongSansSC")
TEXT_SUFFIXES = {".py", ".toml", ".html", ".po", ".txt", ".json", ".csv", ".md"}
CJK_FROM = 0x2E80


def gb2312_level1() -> set[int]:
    """The 3,755 hanzi of GB2312 level 1 (rows 0xB0-0xD7; the last row ends at 0xF9)."""
    found = set()
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            if high == 0xD7 and low > 0xF9:
                break
            found.add(ord(bytes([high, low]).decode("gb2312")))
    return found


def package_characters() -> set[int]:
    """Every CJK character in the package's text files."""
    found = set()
    for path in PACKAGE.rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="ignore")
            found.update(ord(char) for char in text if ord(char) >= CJK_FROM)
    return found


def code_points() -> set[int]:
    ranges = [range(0x20, 0x7F), range(0x3000, 0x3040), range(0xFF00, 0xFFF0)]
    wanted = gb2312_level1() | package_characters()
    for span in ranges:
        wanted.update(span)
    return wanted


def build(source: Path, wanted: set[int], output: Path, flavor: str | None) -> None:
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the licence (13) and its URL (14)
    options.flavor = flavor
    font = TTFont(source)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted & set(font.getBestCmap())))
    subsetter.subset(font)
    for record in font["name"].names:
        text = record.toUnicode()
        renamed = text.replace(*FAMILY).replace(*POSTSCRIPT)
        if renamed != text:
            record.string = renamed
    output.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = flavor
    font.save(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="NotoSansSC_400Regular.ttf (static, glyf)")
    parser.add_argument(
        "--licence", type=Path, help="the OFL text (default: LICENSE_FONT beside the package)"
    )
    args = parser.parse_args()
    wanted = code_points()
    build(args.source, wanted, TTF, None)
    build(args.source, wanted, WOFF2, "woff2")
    licence = args.licence or args.source.parents[1] / "LICENSE_FONT"
    for folder in (TTF.parent, WOFF2.parent):
        shutil.copyfile(licence, folder / "OFL.txt")
    print(
        f"{len(wanted):,} code points: {TTF} ({TTF.stat().st_size:,} bytes), "
        f"{WOFF2} ({WOFF2.stat().st_size:,} bytes)"
    )


if __name__ == "__main__":
    main()
