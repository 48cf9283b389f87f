"""A stacked bar chart as inline SVG, rendered on the server.

Written by hand rather than vendoring a chart library: the dashboard needs one
chart of at most 24 x 7 rectangles, which is a few lines of arithmetic, and
server-side SVG needs no script, no data handed to JavaScript, and shows the
same figures a test can read back from the markup (each bar segment carries
its hour, status and count as data attributes). Colours come from CSS classes
(`status-<status>`, static/scheduler/admin.css), the same as the badges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# The drawing is sized in viewBox units and scales to its container's width.
WIDTH = 720
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 26
# Share of a column the bar fills; the rest is the gap between bars.
BAR_FILL = 0.78


@dataclass(frozen=True)
class Column:
    key: str  # machine value for data-* attributes, e.g. an ISO instant
    label: str  # what a person reads under the bar and in its tooltip
    counts: dict[str, int]  # series -> value


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # not reached: 10 x magnitude > value always


def stacked_bars(
    columns: Sequence[Column],
    *,
    series: Sequence[str],
    title: str,
    label_every: int = 3,
) -> SafeString:
    """An accessible <svg>: one column per entry, segments stacked in `series` order."""
    top = nice_ceiling(max((sum(c.counts.values()) for c in columns), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(columns), 1)
    parts = [_grid(top, plot_w, plot_h)]
    for index, column in enumerate(columns):
        x = LEFT + index * step
        parts.append(_column(column, series, x, step, top, plot_h))
        if index % label_every == 0:
            parts.append(_x_label(column.label, x + step / 2))
    return format_html(
        '<svg class="run-chart" viewBox="0 0 {} {}" role="img" '
        'aria-labelledby="run-chart-title" preserveAspectRatio="xMidYMid meet">'
        '<title id="run-chart-title">{}</title>{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        mark_safe("".join(parts)),  # noqa: S308  (each part built by format_html)
    )


def _grid(top: int, plot_w: float, plot_h: float) -> SafeString:
    """Horizontal lines at 0, half and the top of the scale, with their values."""
    marks = sorted({0, top // 2, top}) if top > 1 else [0, 1]
    rows = []
    for value in marks:
        y = TOP + plot_h - plot_h * value / top
        rows.append(
            (LEFT, _fmt(LEFT + plot_w), _fmt(y), _fmt(y), LEFT - 6, _fmt(y + 4), value)
        )
    return format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
        rows,
    )


def _column(
    column: Column,
    series: Sequence[str],
    x: float,
    step: float,
    top: int,
    plot_h: float,
) -> SafeString:
    """One column's segments, bottom up; empty series draw nothing."""
    bar_w = step * BAR_FILL
    left = x + (step - bar_w) / 2
    base = TOP + plot_h
    cells = []
    for name in series:
        count = column.counts.get(name, 0)
        if not count:
            continue
        height = plot_h * count / top
        base -= height
        cells.append(
            format_html(
                '<rect class="bar status-{}" x="{}" y="{}" width="{}" height="{}" '
                'data-column="{}" data-status="{}" data-count="{}">'
                "<title>{}: {} {}</title></rect>",
                name,
                _fmt(left),
                _fmt(base),
                _fmt(bar_w),
                _fmt(height),
                column.key,
                name,
                count,
                column.label,
                count,
                name.replace("_", " "),
            )
        )
    return mark_safe("".join(cells))  # noqa: S308  (each cell built by format_html)


def _x_label(text: str, center: float) -> SafeString:
    return format_html(
        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        _fmt(center),
        HEIGHT - 8,
        text,
    )


def _fmt(value: float) -> str:
    """Two decimals at most: short markup, and stable for tests to read."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
