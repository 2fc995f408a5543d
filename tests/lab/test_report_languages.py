"""The lab report in Simplified Chinese and English (``xinyong lab run --lang``): every text people
read is translated, the data is not, and the Chinese reads on a machine without CJK fonts."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import re
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont
from typer.testing import CliRunner

from xinyong.cli.app import app
from xinyong.cli.lab import Language
from xinyong.i18n import LANGUAGES, LOCALE_DIR, gettext_for
from xinyong.lab.experiment import load_experiment
from xinyong.lab.report import GLOSSARY, SUMMARY_COLUMNS, write_outputs
from xinyong.lab.runner import LabResult, run_experiment

TINY = """
name = "tiny"
seed = 5
years = 1
start = 2023-01-01
step = "3m"
[population]
people = 400
organizations = 20
[[schemes]]
pilot = "judgment-defaulters"
[sweep]
scheme = { pilot = "rongcheng" }
maximize = "deterrence"
constraints = [{ metric = "wrongful_listing_rate", op = "<", value = -1 }]
[[sweep.parameters]]
rule = "fraud"
field = "points"
values = [-10, -90]
"""
"""The smallest run with every part of the report: a scheme, a sweep and a failed constraint."""

GATED = """
name = "gated"
seed = 6
replicates = 2
years = 1
start = 2023-01-01
step = "2w"
summary_months = 2
gate = "board-flight"
[population]
people = 200
[behaviour]
interactions_per_month = 12
bad_day_rate = 0.2
[[societies]]
label = "swarm"
attack = "swarm"
budget = 4
sybils = 4
[[schemes]]
pilot = "nosedive-gate"
[[schemes]]
pilot = "nosedive-gate"
label = "bayesian"
changes = { "peer.algorithm" = "bayesian", "peer.seeds" = [] }
"""
"""A peer run with a gate and an attack: the report's gate, cascade and attack sections."""

PLACEHOLDER = re.compile(r"%\(\w+\)s")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LabResult]:
    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path, run_experiment(load_experiment(path), folder)


@pytest.fixture(scope="module")
def english(run: tuple[Path, LabResult], tmp_path_factory: pytest.TempPathFactory) -> str:
    paths = write_outputs(run[1], TINY, tmp_path_factory.mktemp("en"))
    return paths["report"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def chinese(run: tuple[Path, LabResult], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The Chinese report as ``xinyong lab run --lang zh`` writes it, and again with the sweep's
    other wording (minimize, no constraints, every variant feasible): together they show every
    message; and a peer run with a gate and an attack, for the sections only those have."""
    path, result = run
    assert result.experiment.sweep is not None
    other = dataclasses.replace(
        result,
        experiment=result.experiment.model_copy(
            update={
                "sweep": result.experiment.sweep.model_copy(
                    update={"maximize": None, "minimize": "deterrence", "constraints": ()}
                )
            }
        ),
        ranking=[dataclasses.replace(r, feasible=True, failed=()) for r in result.ranking],
    )
    out = tmp_path_factory.mktemp("zh")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        done = CliRunner().invoke(app, ["lab", "run", str(path), "--out", str(out), "--lang", "zh"])
        assert done.exit_code == 0, done.output
        gated = tmp_path_factory.mktemp("gated") / "gated.toml"
        gated.write_text(GATED, encoding="utf-8")
        peer = run_experiment(load_experiment(gated), gated.parent)
        pages = [
            out / "report.html",
            write_outputs(other, TINY, out / "other", "zh")["report"],
            write_outputs(peer, GATED, out / "gated", "zh")["report"],
        ]
        # every verdict of a comparison: more, fewer, no measurable change, one replicate
        for name, deltas in (
            ("more", (0.1, 0.101)),
            ("fewer", (-0.1, -0.101)),
            ("same", (0.1, -0.1)),
        ):
            pages.append(write_outputs(_shifted(peer, deltas), GATED, out / name, "zh")["report"])
        single = peer.metrics.filter(pc.field("replicate") == 0)
        one = dataclasses.replace(peer, metrics=single)
        pages.append(write_outputs(one, GATED, out / "one", "zh")["report"])
    assert not [w for w in caught if "missing from font" in str(w.message)]
    return [page.read_text(encoding="utf-8") for page in pages]


def _shifted(result: LabResult, deltas: tuple[float, float]) -> LabResult:
    """``result`` with the second arm's wrongful gate denials set to the first's plus a
    difference per replicate."""
    frame = result.metrics.to_pandas()
    for replicate, delta in enumerate(deltas):
        mine = (frame["replicate"] == replicate) & (frame["arm"] == "bayesian")
        first = (frame["replicate"] == replicate) & (frame["arm"] == "nosedive-gate")
        values = frame.loc[first, "wrongful_gate_denials"].to_numpy() + delta
        frame.loc[mine, "wrongful_gate_denials"] = values
    return dataclasses.replace(result, metrics=pa.Table.from_pandas(frame, preserve_index=False))


def _lab_catalog() -> Catalog:
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "lab.po").open("rb") as file:
        return read_po(file, locale="zh_Hans")


def _visible(page: str) -> str:
    """The page's own text: no styles, plots or experiment file (user data), tags removed."""
    for element in ("style", "svg", "pre"):
        page = re.sub(rf"<{element}\b.*?</{element}>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _fragments(message: str) -> list[str]:
    """The literal parts of a message around its placeholders, as filled text shows them (a
    ``%%`` is a ``%``)."""
    return [part.strip().replace("%%", "%") for part in PLACEHOLDER.split(message) if part.strip()]


def test_the_chinese_report_is_marked_chinese_and_the_english_english(
    english: str, chinese: list[str]
) -> None:
    assert '<html lang="zh-Hans">' in chinese[0]
    assert '<html lang="en">' in english
    assert "<h2>汇总</h2>" in chinese[0]
    assert "<h2>参数扫描排名</h2>" in chinese[0]
    assert "<summary>各列含义</summary>" in chinese[0]


def test_every_message_of_the_lab_catalog_is_shown_translated(chinese: list[str]) -> None:
    """Every message of ``lab.po`` appears in Chinese, and none of them in English."""
    text = "\n".join(html.unescape(page) for page in chinese)
    visible = "\n".join(_visible(page) for page in chinese)
    for message in _lab_catalog():
        if not message.id:
            continue
        assert isinstance(message.id, str)
        assert isinstance(message.string, str)
        for fragment in _fragments(message.string):
            assert fragment in text, (message.id, fragment)
        for fragment in _fragments(message.id):
            if len(fragment) >= 3 and re.search(r"[A-Za-z]", fragment):
                pattern = rf"(?<![A-Za-z]){re.escape(fragment)}(?![A-Za-z])"
                assert not re.search(pattern, visible), (message.id, fragment)


def test_the_glossary_explains_each_metric_identifier_in_chinese(chinese: list[str]) -> None:
    """Metric identifiers are data (the columns of metrics.csv): shown as they are, each with its
    meaning and its better direction translated."""
    _ = gettext_for("zh")
    glossary = chinese[0][chinese[0].index("各列含义") :]
    for column in SUMMARY_COLUMNS:
        meaning, better = GLOSSARY[column]
        row = (
            f"<code>{column}</code></td><td>{html.escape(_(meaning))}</td>"
            f"<td>{html.escape(_(better))}</td>"
        )
        assert row in glossary
        assert _(better) != better


def test_data_is_shown_as_written_and_numbers_as_in_english(
    english: str, chinese: list[str]
) -> None:
    """Arms, the experiment file and every number of the tables are the same in both reports."""
    for arm in ("judgment-defaulters", "rule fraud points=-10", "rule fraud points=-90"):
        assert f"<th scope='row'>{arm}</th>" in chinese[0]
    assert html.escape(TINY) in chinese[0]
    assert "模拟 400 名个人和 20 家组织，自 2023年1月1日 起共 1 年，步长 3m（90 天）" in chinese[0]
    assert "随机种子 [5, 0]。实验组：judgment-defaulters、rule fraud points=-10" in chinese[0]

    def cells(page: str) -> list[str]:
        return re.findall(r"<td>([-–0-9.,]+)</td>", page)

    assert cells(chinese[0]) == cells(english)
    assert len(cells(english)) > 3 * len(SUMMARY_COLUMNS)
    for tag in ("<h2>", "<tr>", "<svg", "<code>"):
        assert chinese[0].count(tag) == english.count(tag), tag


def test_the_chinese_report_needs_no_installed_font(chinese: list[str]) -> None:
    """The page embeds the bundled font, cut down to its Chinese, first in font-family; the
    plots draw their text as paths, Chinese with the bundled font's glyphs."""
    page = chinese[0]
    found = re.search(r'url\("data:font/woff;base64,([A-Za-z0-9+/=]+)"\)', page)
    assert found is not None
    assert 'font-family: "Xinyong Sans SC", system-ui' in page
    woff = base64.b64decode(found.group(1))
    assert woff[:4] == b"wOFF"
    font = TTFont(io.BytesIO(woff))
    needed = {ord(c) for c in _visible(page) if 0x2E80 <= ord(c) <= 0xFFEF}
    assert needed <= set(font.getBestCmap())
    assert len(found.group(1)) < 300_000  # the page's characters, not the whole font
    assert page.count("<svg") == 8
    assert "<text" not in page  # svg.fonttype "path": no font needed to view the plots
    assert "XinyongSansSC-Regular-" in page  # Chinese glyphs drawn from the bundled font


def test_the_english_report_embeds_no_font(english: str) -> None:
    assert "@font-face" not in english
    assert "What the columns mean" in english
    assert "maximize deterrence" in english
    assert html.escape("no: wrongful_listing_rate < -1") in english


def test_the_command_takes_the_languages_of_the_catalogs(run: tuple[Path, LabResult]) -> None:
    refused = CliRunner().invoke(app, ["lab", "run", str(run[0]), "--lang", "fr"])
    assert refused.exit_code == 2
    assert {language.value for language in Language} == set(LANGUAGES)
