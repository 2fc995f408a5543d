"""Charts as inline SVG, drawn on the server: no script, no image files, readable without
JavaScript, and with the numbers in the page's JSON twin.

A :class:`Chart` is plain data (it is served in the twin as it is); :func:`line_chart` and
:func:`bar_chart` draw it. Each SVG has ``role="img"`` with a title and a description naming
every series' latest value, and each point or bar a tooltip, for screen readers and for people.
Colours are dark enough for 4.5:1 contrast on white.

A chart's title and labels are made in the page's language by the page's builder; the words the
drawing adds (the description, the tooltips' punctuation) are drawn in the ``language`` given.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from xinyong.i18n import DEFAULT, gettext_for

__all__ = ["Chart", "Reference", "Series", "bar_chart", "line_chart"]

PALETTE = ("#1f5fa8", "#b3261e", "#2e6b30", "#6a1b9a", "#8a4b00", "#00695c", "#5d4037")
_WIDTH, _HEIGHT = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 28, 40
_LEGEND_ROW = 16
_MAX_BAR = 36.0
_CHAR, _WIDE_CHAR = 6.5, 12.0
"""The width of a legend's character, and of a wide one (Chinese), at the legend's size."""


@dataclass(frozen=True, slots=True)
class Series:
    """One line or one colour of bars: a value (or None, no value) per category."""

    label: str
    values: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Reference:
    """A horizontal line with a label (a grade's lower bound)."""

    value: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """What a chart shows: categories along the x axis, series of values over them."""

    key: str
    """Unique on its page (the SVG's element ids derive from it)."""
    title: str
    x: Sequence[str]
    series: Sequence[Series]
    y_label: str = ""
    references: Sequence[Reference] = field(default=())
    x_label: str = ""
    """What the categories are (the header of the numbers' table)."""


def _nice_step(span: float) -> float:
    raw = span / 4 if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _bounds(chart: Chart, zero: bool) -> tuple[float, float, float]:
    values = [v for s in chart.series for v in s.values if v is not None]
    values += [r.value for r in chart.references]
    low = min([*values, 0.0]) if zero or not values else min(values)
    high = max(values) if values else 1.0
    if high == low:
        high = low + 1
    step = _nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _last(series: Series) -> list[tuple[int, float]]:
    """The last value of a series and its position (an empty list when it has none)."""
    for index in range(len(series.values) - 1, -1, -1):
        value = series.values[index]
        if value is not None:
            return [(index, value)]
    return []


def _number(value: float) -> str:
    """A value as the axes and tooltips show it (grouped as English and Chinese both group)."""
    return f"{value:,.0f}" if value == round(value) else f"{value:,.2f}"


def _text_width(text: str) -> float:
    """About how wide ``text`` is drawn in a legend: a Chinese character twice a Latin one."""
    return sum(_WIDE_CHAR if unicodedata.east_asian_width(c) in "WF" else _CHAR for c in text)


class _Canvas:
    def __init__(self, chart: Chart, zero: bool, language: str) -> None:
        self.chart = chart
        self.gettext: Callable[[str], str] = gettext_for(language)
        self.low, self.high, self.step = _bounds(chart, zero)
        self.parts: list[str] = []
        self.height = _HEIGHT

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return _TOP + (1 - share) * (_HEIGHT - _TOP - _BOTTOM)

    def x(self, index: int, slots: int) -> float:
        width = _WIDTH - _LEFT - _RIGHT
        return _LEFT + width * (index + 0.5) / max(1, slots)

    def axes(self) -> None:
        add = self.parts.append
        tick = self.low
        while tick <= self.high + self.step / 2:
            y = self.y(tick)
            right = _WIDTH - _RIGHT
            add(f'<line class="grid" x1="{_LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
            add(
                f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(_number(tick))}</text>"
            )
            tick += self.step
        slots = len(self.chart.x)
        every = max(1, math.ceil(slots / 8))
        for index, label in enumerate(self.chart.x):
            last = index == slots - 1
            if last or (index % every == 0 and slots - 1 - index >= every):
                x, y = self.x(index, slots), _HEIGHT - _BOTTOM + 16
                add(
                    f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="middle">'
                    f"{escape(label)}</text>"
                )
        if self.chart.y_label:
            add(
                f'<text class="axis-label" x="4" y="{_TOP - 4}">{escape(self.chart.y_label)}</text>'
            )
        for ref in self.chart.references:
            if self.low <= ref.value <= self.high:
                y = self.y(ref.value)
                add(
                    f'<line class="reference" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" '
                    f'y2="{y:.1f}"/><text class="reference-label" x="{_WIDTH - _RIGHT - 2}" '
                    f'y="{y - 3:.1f}" text-anchor="end">{escape(ref.label)}</text>'
                )

    def legend(self) -> None:
        """Swatches and labels under the chart, wrapping onto more rows as needed."""
        x, row = float(_LEFT), 0
        for number, series in enumerate(self.chart.series):
            width = 24 + _text_width(series.label)
            if x + width > _WIDTH - _RIGHT and x > _LEFT:
                x, row = float(_LEFT), row + 1
            y = _HEIGHT - 14 + row * _LEGEND_ROW
            colour = PALETTE[number % len(PALETTE)]
            self.parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{colour}"/>'
                f'<text class="legend" x="{x + 14:.1f}" y="{y + 9}">{escape(series.label)}</text>'
            )
            x += width
        self.height = _HEIGHT + row * _LEGEND_ROW

    def tooltip(self, series: Series, index: int, value: float) -> str:
        """A point's or bar's tooltip: its series, category and value."""
        _ = self.gettext
        return _("%(series)s, %(category)s: %(value)s") % {
            "series": series.label,
            "category": self.chart.x[index],
            "value": _number(value),
        }

    def svg(self) -> Markup:
        chart = self.chart
        _ = self.gettext
        latest = _("; ").join(
            _("%(series)s: %(value)s (%(category)s)")
            % {"series": series.label, "value": _number(value), "category": chart.x[index]}
            for series in chart.series
            for index, value in _last(series)
        )
        description = (
            _("%(title)s. Latest values: %(latest)s.") % {"title": chart.title, "latest": latest}
            if latest
            else _("No data yet.")
        )
        key = escape(chart.key)
        return Markup(
            f'<svg class="chart" viewBox="0 0 {_WIDTH} {self.height}" role="img" '
            f'aria-labelledby="{key}-title {key}-desc" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{key}-title">{escape(chart.title)}</title>'
            f'<desc id="{key}-desc">{escape(description)}</desc>' + "".join(self.parts) + "</svg>"
        )


def line_chart(chart: Chart, language: str = DEFAULT) -> Markup:
    """Lines with a marker at every value; a missing value breaks the line."""
    canvas = _Canvas(chart, zero=False, language=language)
    canvas.axes()
    slots = len(chart.x)
    for number, series in enumerate(chart.series):
        colour = PALETTE[number % len(PALETTE)]
        run: list[str] = []
        for index, value in enumerate([*series.values, None]):
            if value is None:
                if len(run) > 1:
                    canvas.parts.append(
                        f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                        f'points="{" ".join(run)}"/>'
                    )
                run = []
                continue
            x, y = canvas.x(index, slots), canvas.y(value)
            run.append(f"{x:.1f},{y:.1f}")
            canvas.parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>'
                f"{escape(canvas.tooltip(series, index, value))}</title></circle>"
            )
    canvas.legend()
    return canvas.svg()


def bar_chart(chart: Chart, language: str = DEFAULT) -> Markup:
    """Grouped bars from zero, one group per category."""
    canvas = _Canvas(chart, zero=True, language=language)
    canvas.axes()
    slots = len(chart.x)
    groups = max(1, len(chart.series))
    slot_width = (_WIDTH - _LEFT - _RIGHT) / max(1, slots)
    bar = max(1.0, min(_MAX_BAR, slot_width * 0.8 / groups))
    base = canvas.y(max(canvas.low, 0.0))
    for number, series in enumerate(chart.series):
        colour = PALETTE[number % len(PALETTE)]
        for index, value in enumerate(series.values):
            if value is None:
                continue
            left = canvas.x(index, slots) - bar * groups / 2 + number * bar
            top = canvas.y(value)
            canvas.parts.append(
                f'<rect x="{left:.1f}" y="{min(top, base):.1f}" width="{bar:.1f}" '
                f'height="{abs(base - top):.1f}" fill="{colour}"><title>'
                f"{escape(canvas.tooltip(series, index, value))}</title></rect>"
            )
    canvas.legend()
    return canvas.svg()
