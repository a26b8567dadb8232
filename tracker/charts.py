"""Trend charts as inline SVG strings, drawn by hand on the server (WeasyPrint draws inline SVG itself, as vectors:
https://doc.courtbouillon.org/weasyprint/stable/api_reference.html).

A chart is a string of SVG built in about a tenth of a millisecond, with no dependency: the same string goes inline
into the HTML page and, later, into the WeasyPrint PDF reports, which render inline SVG as vectors (matplotlib
would add half a second of import and 40 ms per chart; pygal loses its colours in WeasyPrint).

What the markup may contain, and why:
- no ``style`` attributes or ``<style>`` elements: the app's Content-Security-Policy is ``style-src 'self'``, so
  colours are presentation attributes (``fill``, ``stroke``);
- no ``href``, ``<image>``, ``<use>``, ``<script>`` or ``<foreignObject>``: nothing is fetched, so the chart is the
  same offline, in print and behind the PDF renderer's URL fetcher;
- every piece of text is escaped, so a chart is safe to put inline (``Markup``) even if a label came from a user;
- ``role="img"`` with a ``<title>`` and a ``<desc>`` that say what the chart shows, for screen readers; each point
  and dosing marker has its own ``<title>`` too, and the page also lists every result in a table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

#: Severity fills, least to most severe (light enough for dark text on top: WCAG contrast for the band labels).
BAND_FILLS = ("#e3f2e1", "#f3f6d6", "#fff3cd", "#ffe1c2", "#fbd3d0", "#f5bcbc")
LINE = "#0b4f8a"
DOSING = "#6a3d9a"
AXIS = "#5c636a"
TEXT = "#212529"
FONT = "DejaVu Sans, Arial, sans-serif"


@dataclass(frozen=True)
class Point:
    on: date
    value: float
    #: What the point's own ``<title>`` says (e.g. "14, moderate").
    text: str


@dataclass(frozen=True)
class Band:
    """A severity band from ``low`` to ``high`` on the value axis (inclusive whole-number totals are drawn from
    ``low - 0.5`` to ``high + 0.5``, so a total on a boundary sits inside its own band)."""

    low: float
    high: float
    label: str


@dataclass(frozen=True)
class Chart:
    #: Unique on the page; used for the ids that tie the title and description to the chart.
    id: str
    title: str
    description: str
    points: Sequence[Point]
    #: Least severe first; shaded from light to dark.
    bands: Sequence[Band] = ()
    y_min: float = 0
    y_max: float = 1
    #: (value, label) pairs drawn on the value axis.
    ticks: Sequence[tuple[float, str]] = ()
    dosing: Sequence[date] = field(default_factory=tuple)
    y_label: str = "Total"


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    left: int = 44
    #: Room for the band labels, beside the plot so that no point can hide one.
    right: int = 150
    top: int = 28
    bottom: int = 44

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom


def _num(value: float) -> str:
    """Coordinates with at most one decimal, so the markup stays short and stable in tests."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "chart"


def _wrap(label: str, width: int = 26) -> list[str]:
    """A band label in lines of about ``width`` characters (SVG text does not wrap by itself)."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _date_range(chart: Chart) -> tuple[date, date]:
    days = [p.on for p in chart.points] + list(chart.dosing)
    if not days:
        today = date.today()
        return today - timedelta(days=15), today + timedelta(days=15)
    first, last = min(days), max(days)
    pad = max(3, (last - first).days // 25)
    if first == last:
        pad = 15
    return first - timedelta(days=pad), last + timedelta(days=pad)


def trend_svg(chart: Chart, width: int = 720, height: int = 260) -> Markup:
    """The chart as an inline ``<svg>`` element: bands shaded, the values joined in date order, one circle per
    point, one dashed line per dosing session. Safe to insert into HTML as is."""
    frame = _Frame(width, height)
    start, end = _date_range(chart)
    span = max((end - start).days, 1)
    low, high = chart.y_min, chart.y_max if chart.y_max > chart.y_min else chart.y_min + 1

    def x(on: date) -> float:
        return frame.left + (on - start).days / span * frame.plot_width

    def y(value: float) -> float:
        clipped = min(max(value, low), high)
        return frame.top + (high - clipped) / (high - low) * frame.plot_height

    ident = _slug(chart.id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{ident}-title {ident}-desc" font-family="{_attr(FONT)}" '
        f'font-size="11">',
        f'<title id="{ident}-title">{escape(chart.title)}</title>',
        f'<desc id="{ident}-desc">{escape(chart.description)}</desc>',
    ]
    left, right = frame.left, frame.left + frame.plot_width
    parts.append('<g class="bands">')
    count = len(chart.bands)
    for index, band in enumerate(chart.bands):
        fill = BAND_FILLS[round(index * (len(BAND_FILLS) - 1) / max(count - 1, 1))]
        top, bottom = y(band.high + 0.5), y(band.low - 0.5)
        parts.append(
            f'<rect class="band" x="{left}" y="{_num(top)}" width="{frame.plot_width}" '
            f'height="{_num(bottom - top)}" fill="{fill}"><title>{escape(band.label)}</title></rect>'
        )
        lines = _wrap(band.label)
        if bottom - top >= 11 * len(lines):
            first, label_x = (top + bottom) / 2 + 4 - 5.5 * (len(lines) - 1), right + 6
            spans = "".join(
                f'<tspan x="{label_x}" dy="{0 if i == 0 else 11}">{escape(line)}</tspan>'
                for i, line in enumerate(lines)
            )
            parts.append(
                f'<text x="{label_x}" y="{_num(first)}" text-anchor="start" fill="{TEXT}" font-size="10">{spans}</text>'
            )
    parts.append("</g>")
    bottom_edge = frame.top + frame.plot_height
    parts.append(
        f'<g class="axes" stroke="{AXIS}" stroke-width="1"><line x1="{left}" y1="{frame.top}" x2="{left}" '
        f'y2="{bottom_edge}"/><line x1="{left}" y1="{bottom_edge}" x2="{right}" y2="{bottom_edge}"/></g>'
    )
    parts.append(f'<g class="ticks" fill="{TEXT}">')
    for value, label in chart.ticks:
        parts.append(f'<text x="{left - 6}" y="{_num(y(value) + 4)}" text-anchor="end">{escape(label)}</text>')
    for step in range(5):
        on = start + timedelta(days=round(span * (step + 0.5) / 5))
        parts.append(f'<text x="{_num(x(on))}" y="{bottom_edge + 16}" text-anchor="middle">{on.isoformat()}</text>')
    parts.append(f'<text x="4" y="12" text-anchor="start" font-weight="bold">{escape(chart.y_label)}</text>')
    parts.append("</g>")
    for number, on in enumerate(sorted(chart.dosing), start=1):
        position = _num(x(on))
        parts.append(
            f'<g class="dosing" stroke="{DOSING}"><title>Dosing session {number}: {on.isoformat()}</title>'
            f'<line x1="{position}" y1="{frame.top}" x2="{position}" y2="{bottom_edge}" stroke-width="1.5" '
            f'stroke-dasharray="5 3"/><text x="{position}" y="{frame.top - 4}" text-anchor="middle" stroke="none" '
            f'fill="{DOSING}" font-weight="bold">D{number}</text></g>'
        )
    ordered = sorted(chart.points, key=lambda p: p.on)
    if len(ordered) > 1:
        path = " ".join(f"{_num(x(p.on))},{_num(y(p.value))}" for p in ordered)
        parts.append(f'<polyline class="line" points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    parts.append(f'<g class="points" fill="{LINE}" stroke="#ffffff" stroke-width="1.5">')
    for point in ordered:
        parts.append(
            f'<circle class="point" cx="{_num(x(point.on))}" cy="{_num(y(point.value))}" r="4.5">'
            f"<title>{point.on.isoformat()}: {escape(point.text)}</title></circle>"
        )
    parts.append("</g>")
    parts.append(
        f'<text x="{left + frame.plot_width / 2:.0f}" y="{height - 6}" text-anchor="middle" fill="{AXIS}">'
        "Date administered (dashed lines: dosing sessions)</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above went through escape()


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    #: What the bar's own ``<title>`` and its end label say (e.g. "12 sessions", "40%").
    text: str


def bar_svg(
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    maximum: float | None = None,
    width: int = 520,
    bar_height: int = 22,
    label_width: int = 190,
) -> Markup:
    """A horizontal bar chart as an inline ``<svg>``: one labelled bar per row, its value written at its end.
    The same rules as ``trend_svg``: presentation attributes only, every text escaped, ``role="img"`` with a title
    and description. ``maximum`` fixes the scale (100 for percentages); otherwise the largest value sets it."""
    gap, top, value_width = 6, 8, 120
    height = top * 2 + len(bars) * (bar_height + gap)
    scale_to = maximum if maximum else max((b.value for b in bars), default=0) or 1
    plot = width - label_width - value_width
    slug = _slug(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bar-chart" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="{slug}-title {slug}-desc" '
        f'font-family="{_attr(FONT)}" font-size="12" fill="{TEXT}">',
        f'<title id="{slug}-title">{escape(title)}</title><desc id="{slug}-desc">{escape(description)}</desc>',
    ]
    for index, bar in enumerate(bars):
        y = top + index * (bar_height + gap)
        length = max(bar.value, 0) / scale_to * plot
        middle = _num(y + bar_height / 2 + 4)
        parts.append(
            f'<g class="bar"><title>{escape(bar.label)}: {escape(bar.text)}</title>'
            f'<text x="{label_width - 8}" y="{middle}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{_num(length)}" height="{bar_height}" fill="{LINE}"/>'
            f'<text x="{_num(label_width + length + 6)}" y="{middle}">{escape(bar.text)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above went through escape()
