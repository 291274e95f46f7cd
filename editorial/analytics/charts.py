"""Charts drawn on the server as SVG: axes, ticks, a legend and marked moments, with a title and
a description for screen readers (each chart has a table of the same numbers beside it).

No script and no style sheet: presentation attributes only, so a chart shows in any admin
theme and under any Content-Security-Policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 40, 44
# Colour-blind safe (Okabe-Ito), each line with its own dash pattern too.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
MARK_COLOUR = "#555555"


@dataclass(frozen=True)
class Line:
    """One series: a name for the legend and a value per x (None: no data there)."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Mark:
    """A moment to draw as a vertical line with a short label (e.g. a rule set published)."""

    at: datetime
    label: str


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high`` (1, 2 or 5 times a power of ten apart)."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    top = math.ceil(high / step - 1e-9) * step
    return [round(i * step, 10) for i in range(round(top / step) + 1)]


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def line_chart(
    *, chart_id: str, title: str, description: str, x: Sequence[datetime], lines: Sequence[Line],
    y_label: str, x_format: str = "%d %b", marks: Sequence[Mark] = (),
    y_format: Callable[[float], str] = _number,
) -> SafeString:  # fmt: skip
    """A line chart of ``lines`` over the moments ``x`` (equally spaced), with ``marks``."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for line in lines for v in line.values if v is not None]
    ticks = nice_ticks(max(values, default=0.0))
    y_top = ticks[-1] or 1.0
    n = len(x)

    def px(i: float) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(v: float) -> float:
        return TOP + plot_h * (1 - v / y_top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" class="analytics-chart" id="{escape(chart_id)}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'preserveAspectRatio="xMinYMin meet" font-family="sans-serif" font-size="11">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    # y axis: grid lines and labels
    for tick in ticks:
        y = py(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dddddd" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#333333">'
            f"{escape(y_format(tick))}</text>"
        )
    out.append(
        f'<text transform="translate(14 {TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" fill="#333333">{escape(y_label)}</text>'
    )
    # x axis: at most 8 labels, evenly picked
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="#333333" stroke-width="1"/>'
    )
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" '
        f'stroke="#333333" stroke-width="1"/>'
    )
    every = max(1, math.ceil(n / 8))
    for i in range(0, n, every):
        out.append(
            f'<line x1="{px(i):.1f}" x2="{px(i):.1f}" y1="{TOP + plot_h}" '
            f'y2="{TOP + plot_h + 4}" stroke="#333333"/>'
            f'<text x="{px(i):.1f}" y="{TOP + plot_h + 17}" text-anchor="middle" '
            f'fill="#333333">{escape(x[i].strftime(x_format))}</text>'
        )
    # marked moments, placed between the steps they fall in
    if n and marks:
        span = (x[-1] - x[0]).total_seconds() if n > 1 else 0.0
        for number, mark in enumerate(marks):
            if span <= 0 or not x[0] <= mark.at <= x[-1]:
                continue
            at = px((mark.at - x[0]).total_seconds() / span * (n - 1))
            label_y = TOP + 10 + 12 * (number % 3)
            out.append(
                f'<g class="analytics-mark"><title>{escape(mark.label)}</title>'
                f'<line x1="{at:.1f}" x2="{at:.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
                f'stroke="{MARK_COLOUR}" stroke-width="1.5" stroke-dasharray="4 3"/>'
                f'<text x="{at + 3:.1f}" y="{label_y}" fill="{MARK_COLOUR}">'
                f"{escape(mark.label)}</text></g>"
            )
    # the lines (a dot per point, so single points show too)
    for number, line in enumerate(lines):
        colour, dash = COLOURS[number % len(COLOURS)], DASHES[number % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, value in enumerate(line.values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{px(i):.1f},{py(value):.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash_attr} '
                f'points="{" ".join(points)}"/>'
            )
            if len(points) == 1:
                cx, cy = points[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
    # legend, above the plot
    x_legend = LEFT
    for number, line in enumerate([*lines, *([Line("rule set published", [])] if marks else [])]):
        is_mark = number >= len(lines)
        colour = MARK_COLOUR if is_mark else COLOURS[number % len(COLOURS)]
        dash = "4 3" if is_mark else DASHES[number % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<g class="analytics-legend"><line x1="{x_legend}" x2="{x_legend + 22}" y1="14" '
            f'y2="14" stroke="{colour}" stroke-width="2"{dash_attr}/>'
            f'<text x="{x_legend + 27}" y="18" fill="#333333">{escape(line.name)}</text></g>'
        )
        x_legend += 40 + 7 * len(line.name)
    out.append("</svg>")
    return mark_safe("".join(out))  # every text in it is escaped above


def bar_chart(
    *, chart_id: str, title: str, description: str, labels: Sequence[str],
    values: Sequence[float | None], y_label: str, x_label: str,
    y_format: Callable[[float], str] = _number,
) -> SafeString:  # fmt: skip
    """A bar per label (e.g. CTR per slot); a missing value draws no bar."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ticks = nice_ticks(max((v for v in values if v is not None), default=0.0))
    y_top = ticks[-1] or 1.0
    n = max(len(labels), 1)
    band = plot_w / n
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" class="analytics-chart" id="{escape(chart_id)}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'preserveAspectRatio="xMinYMin meet" font-family="sans-serif" font-size="11">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<g class="analytics-legend"><rect x="{LEFT}" y="8" width="14" height="10" '
        f'fill="{COLOURS[0]}"/><text x="{LEFT + 19}" y="17" fill="#333333">'
        f"{escape(y_label)}</text></g>",
    ]
    for tick in ticks:
        y = TOP + plot_h * (1 - tick / y_top)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dddddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#333333">{escape(y_format(tick))}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="#333333"/><line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" '
        f'stroke="#333333"/>'
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'fill="#333333">{escape(x_label)}</text>'
        f'<text transform="translate(14 {TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" fill="#333333">{escape(y_label)}</text>'
    )
    every = max(1, math.ceil(n / 20))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        left = LEFT + band * i
        if value is not None:
            height = plot_h * value / y_top
            out.append(
                f'<rect x="{left + band * 0.15:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{band * 0.7:.1f}" height="{height:.1f}" fill="{COLOURS[0]}">'
                f"<title>{escape(label)}: {escape(y_format(value))}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{left + band / 2:.1f}" y="{TOP + plot_h + 15}" text-anchor="middle" '
                f'fill="#333333">{escape(label)}</text>'
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # every text in it is escaped above
