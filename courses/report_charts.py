"""Server-rendered SVG bar charts for staff reports.

:func:`bar_chart` is a pure function: categories and series in, escaped SVG markup out,
no queries and no JavaScript. Charts are a picture of a table the page also shows:
each has a ``<title>`` and ``<desc>`` for screen readers, every bar its own tooltip
title, and series differ by fill pattern and legend text as well as by colour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

PLOT_HEIGHT = 160
MARGIN_LEFT = 48
MARGIN_RIGHT = 12
MARGIN_TOP = 28  # room for the legend
MARGIN_BOTTOM = 36  # room for the category labels
MAX_GROUP_WIDTH = 120
MIN_GROUP_WIDTH = 8
TARGET_PLOT_WIDTH = 720
LABEL_WIDTH = 44  # a category label needs about this much room to stay legible
VALUE_LABEL_MIN_BAR = 22  # narrower bars show their value in the tooltip and table only

# Series styles: a fill colour and a pattern, so no series is told apart by colour alone.
FILLS = ("#1f3a5f", "#6b8fbf", "#8a5a00")
PATTERNS = ("solid", "hatch", "dots")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per category; None: nothing to show


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _join(parts: Sequence[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def _pattern_defs(chart_id: str, count: int) -> SafeString:
    parts = []
    for index in range(count):
        kind = PATTERNS[index % len(PATTERNS)]
        fill = FILLS[index % len(FILLS)]
        if kind == "hatch":
            parts.append(
                format_html(
                    '<pattern id="{}-p{}" width="6" height="6" patternUnits="userSpaceOnUse"'
                    ' patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
                    '<rect width="3" height="6" fill="{}"/></pattern>',
                    chart_id,
                    index,
                    fill,
                )
            )
        elif kind == "dots":
            parts.append(
                format_html(
                    '<pattern id="{}-p{}" width="5" height="5" patternUnits="userSpaceOnUse">'
                    '<rect width="5" height="5" fill="#fff"/>'
                    '<circle cx="2.5" cy="2.5" r="1.6" fill="{}"/></pattern>',
                    chart_id,
                    index,
                    fill,
                )
            )
    return format_html("<defs>{}</defs>", _join(parts)) if parts else SafeString("")


def _paint(chart_id: str, index: int) -> str:
    if PATTERNS[index % len(PATTERNS)] == "solid":
        return FILLS[index % len(FILLS)]
    return f"url(#{chart_id}-p{index})"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[float], str] = percent,
    axis_max: float = 1.0,
    empty_text: str = "No data in this range.",
) -> SafeString:
    """An inline SVG bar chart, one group of bars per category.

    The value axis runs from 0 to ``axis_max`` (raised to the largest value when one is
    above it) with four grid steps. Category labels thin out when there are too many to
    fit; every bar keeps a tooltip with its category, series and value.
    """
    for line in series:
        if len(line.values) != len(categories):
            raise ValueError(
                f"Series {line.name!r} has {len(line.values)} values for "
                f"{len(categories)} categories."
            )
    values = [v for line in series for v in line.values if v is not None]
    top = max([axis_max, *values]) if values else axis_max
    if top <= 0:
        top = 1.0
    count = max(len(categories), 1)
    group_width = min(MAX_GROUP_WIDTH, max(MIN_GROUP_WIDTH, TARGET_PLOT_WIDTH / count))
    plot_width = group_width * count
    width = MARGIN_LEFT + plot_width + MARGIN_RIGHT
    height = MARGIN_TOP + PLOT_HEIGHT + MARGIN_BOTTOM
    baseline = MARGIN_TOP + PLOT_HEIGHT

    def y_of(value: float) -> float:
        return baseline - PLOT_HEIGHT * max(value, 0.0) / top

    grid = []
    for step in range(5):
        tick = top * step / 4
        y = y_of(tick)
        grid.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d5dbe3"/>'
                '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#4a5566">{}</text>',
                MARGIN_LEFT,
                _number(MARGIN_LEFT + plot_width),
                _number(y),
                _number(y),
                MARGIN_LEFT - 4,
                _number(y + 4),
                value_format(tick),
            )
        )

    legend = []
    if len(series) > 1:
        legend_x = MARGIN_LEFT
        for index, line in enumerate(series):
            legend.append(
                format_html(
                    '<rect x="{}" y="6" width="12" height="12" fill="{}" stroke="#1d2430"/>'
                    '<text x="{}" y="16" font-size="12" fill="#1d2430">{}</text>',
                    legend_x,
                    _paint(chart_id, index),
                    legend_x + 16,
                    line.name,
                )
            )
            legend_x += 24 + 7 * len(line.name)

    bar_room = group_width * 0.8
    bar_width = bar_room / max(len(series), 1)
    label_step = max(1, math.ceil(LABEL_WIDTH / group_width))
    bars = []
    labels = []
    for position, category in enumerate(categories):
        group_x = MARGIN_LEFT + position * group_width + (group_width - bar_room) / 2
        center = MARGIN_LEFT + (position + 0.5) * group_width
        if position % label_step == 0:
            labels.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#1d2430">'
                    "{}</text>",
                    _number(center),
                    baseline + 16,
                    category,
                )
            )
        for index, line in enumerate(series):
            value = line.values[position]
            x = group_x + index * bar_width
            name = f"{category}, {line.name}" if len(series) > 1 else category
            if value is None:
                bars.append(
                    format_html(
                        '<text class="no-value" x="{}" y="{}" text-anchor="middle"'
                        ' font-size="11" fill="#4a5566"><title>{}: no data</title>&#8211;</text>',
                        _number(x + bar_width / 2),
                        baseline - 3,
                        name,
                    )
                )
                continue
            y = y_of(value)
            bars.append(
                format_html(
                    '<rect class="bar" data-series="{}" x="{}" y="{}" width="{}" height="{}"'
                    ' fill="{}" stroke="#1d2430" stroke-width="0.5"><title>{}: {}</title></rect>',
                    index,
                    _number(x),
                    _number(y),
                    _number(max(bar_width - 1, 1)),
                    _number(baseline - y),
                    _paint(chart_id, index),
                    name,
                    value_format(value),
                )
            )
            if bar_width >= VALUE_LABEL_MIN_BAR:
                bars.append(
                    format_html(
                        '<text x="{}" y="{}" text-anchor="middle" font-size="10"'
                        ' fill="#1d2430" aria-hidden="true">{}</text>',
                        _number(x + bar_width / 2),
                        _number(y - 3),
                        value_format(value),
                    )
                )

    empty = (
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-size="13" fill="#4a5566">{}</text>',
            _number(MARGIN_LEFT + plot_width / 2),
            MARGIN_TOP + PLOT_HEIGHT // 2,
            empty_text,
        )
        if not categories
        else SafeString("")
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" role="img"'
        ' aria-labelledby="{}-title {}-desc" width="{}" height="{}" viewBox="0 0 {} {}">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}'
        "<g>{}</g><g>{}</g><g>{}</g>"
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#1d2430"/><g>{}</g>{}</svg>',
        chart_id,
        chart_id,
        chart_id,
        _number(width),
        height,
        _number(width),
        height,
        chart_id,
        title,
        chart_id,
        desc,
        _pattern_defs(chart_id, len(series)),
        _join(grid),
        _join(legend),
        _join(bars),
        MARGIN_LEFT,
        _number(MARGIN_LEFT + plot_width),
        baseline,
        baseline,
        _join(labels),
        empty,
    )
