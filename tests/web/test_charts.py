"""Server-drawn SVG charts: well-formed, labelled for screen readers, one mark per value."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from xinyong.web.charts import Chart, Reference, Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_a_line_chart_marks_every_value_and_breaks_at_gaps() -> None:
    chart = Chart(
        "c",
        "Score <under> test",
        ["2025-01", "2025-02", "2025-03", "2025-04"],
        [Series("score", [1000.0, None, 990.5, 995.0])],
        "points",
        [Reference(1000, "A from 1000")],
    )
    svg = _parse(line_chart(chart))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.findtext(f"{SVG}title") == "Score <under> test"  # escaped, then read back
    assert svg.findtext(f"{SVG}desc") == "Score <under> test. Latest values: score: 995 (2025-04)."
    assert len(svg.findall(f"{SVG}circle")) == 3
    assert len(svg.findall(f"{SVG}polyline")) == 1  # the lone first point draws no line
    assert [c.findtext(f"{SVG}title") for c in svg.findall(f"{SVG}circle")] == [
        "score, 2025-01: 1,000",
        "score, 2025-03: 990.50",
        "score, 2025-04: 995",
    ]


def test_a_bar_chart_draws_one_bar_per_value() -> None:
    chart = Chart(
        "b",
        "Flows",
        ["2025-01", "2025-02"],
        [Series("entered", [3.0, 0.0]), Series("left", [1.0, 2.0])],
    )
    svg = _parse(bar_chart(chart))
    bars = [r for r in svg.findall(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 4
    heights = {r.findtext(f"{SVG}title"): float(r.get("height", "0")) for r in bars}
    assert heights["entered, 2025-02: 0"] == 0
    assert heights["entered, 2025-01: 3"] == 3 * heights["left, 2025-01: 1"]


def test_an_empty_chart_says_so() -> None:
    svg = _parse(line_chart(Chart("e", "Nothing", [], [])))
    assert svg.findtext(f"{SVG}desc") == "No data yet."
