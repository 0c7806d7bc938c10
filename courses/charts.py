"""The score-over-time chart of a course page, laid out in Python and drawn by the
template as inline SVG (no JavaScript, so it prints and works with scripts off).

``score_chart`` is a pure function: scores in, coordinates and path strings out. The
template only places what it is given; every number a test may want to check (where a
point or a threshold line lands) comes from here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from courses.instruments import INSTRUMENTS

WIDTH = 640
HEIGHT = 280
MARGIN_LEFT = 44
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
Y_TICK_STEP = 5
MAX_X_TICKS = 6
# A chart of a single day still needs some width to put its point in.
MIN_SPAN_DAYS = 7

# Marker shapes per series, so a series is told apart without colour.
MARKERS = ("circle", "square", "diamond", "triangle")
DASHES = ("", "6 3", "2 3", "8 3 2 3")


@dataclass(frozen=True)
class SeriesInput:
    """One instrument's scores, oldest first or not (they are sorted here)."""

    label: str
    points: Sequence[tuple[dt.date, int]]


@dataclass(frozen=True)
class ThresholdInput:
    """A horizontal reference line at ``value`` (e.g. 50% of baseline, remission)."""

    label: str
    value: float
    kind: str  # "response" | "remission": the template styles each kind


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    day: dt.date
    score: int


@dataclass(frozen=True)
class Series:
    label: str
    marker: str
    dash: str
    points: tuple[Point, ...]
    path: str  # SVG path data joining the points; "" for a single point


@dataclass(frozen=True)
class Line:
    label: str
    kind: str
    value: float
    y: float


@dataclass(frozen=True)
class Tick:
    label: str
    position: float  # x for the date axis, y for the score axis


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    max_score: int
    series: tuple[Series, ...]
    thresholds: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    today_x: float | None = None  # where the "Today" line goes, when today is on the axis
    title: str = ""
    description: str = ""

    @property
    def middle(self) -> float:
        """Halfway down the score axis (where its label goes)."""
        return _round((self.top + self.bottom) / 2)

    @property
    def is_empty(self) -> bool:
        return not any(series.points for series in self.series)


def _round(value: float) -> float:
    return round(value, 1)


def score_chart(
    series: Sequence[SeriesInput],
    *,
    max_score: int,
    thresholds: Sequence[ThresholdInput] = (),
    period: tuple[dt.date, dt.date] | None = None,
    today: dt.date | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """Lay out scores on a date axis (x) and a 0..``max_score`` axis (y, 0 at the
    bottom). Dates run from the first to the last score, stretched to cover ``period``
    (first, last day) when given, and widened to at least a week. ``today`` gets a
    vertical line when it falls on the axis."""
    if max_score <= 0:
        raise ValueError("max_score must be positive")
    left, right = float(MARGIN_LEFT), float(width - MARGIN_RIGHT)
    top, bottom = float(MARGIN_TOP), float(height - MARGIN_BOTTOM)
    days = sorted({day for s in series for day, _ in s.points} | set(period or ()))
    first = days[0] if days else dt.date.min
    span = max((days[-1] - first).days if days else 0, MIN_SPAN_DAYS)

    def x_of(day: dt.date) -> float:
        return _round(left + (day - first).days / span * (right - left))

    def y_of(value: float) -> float:
        clamped = min(max(value, 0), max_score)
        return _round(bottom - clamped / max_score * (bottom - top))

    laid_out = []
    for index, given in enumerate(series):
        points = tuple(
            Point(x_of(day), y_of(score), day, score)
            for day, score in sorted(given.points, key=lambda point: point[0])
        )
        path = (
            " ".join(
                f"{'M' if n == 0 else 'L'} {point.x} {point.y}" for n, point in enumerate(points)
            )
            if len(points) > 1
            else ""
        )
        laid_out.append(
            Series(
                label=given.label,
                marker=MARKERS[index % len(MARKERS)],
                dash=DASHES[index % len(DASHES)],
                points=points,
                path=path,
            )
        )

    lines = tuple(
        Line(t.label, t.kind, t.value, y_of(t.value))
        for t in thresholds
        if 0 <= t.value <= max_score
    )

    y_values = list(range(0, max_score + 1, Y_TICK_STEP))
    if max_score - y_values[-1] >= 2:  # label the top unless it would crowd the last tick
        y_values.append(max_score)
    y_ticks = tuple(Tick(str(value), y_of(value)) for value in y_values)

    x_ticks: tuple[Tick, ...] = ()
    if days:
        step = max(1, -(-span // (MAX_X_TICKS - 1)))
        ticks = []
        offset = 0
        while offset <= span:
            day = first + dt.timedelta(days=offset)
            ticks.append(Tick(f"{day:%d %b}", x_of(day)))
            offset += step
        x_ticks = tuple(ticks)
    today_x = None
    if days and today is not None and 0 <= (today - first).days <= span:
        today_x = x_of(today)

    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        max_score=max_score,
        series=tuple(laid_out),
        thresholds=lines,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        today_x=today_x,
    )


def _number(value: float) -> str:
    return f"{value:g}"


def course_chart(
    instruments: Sequence[str],
    scores: Sequence[tuple[str, dt.date, int]],
    *,
    baseline: int | None,
    course_days: tuple[dt.date, dt.date] | None = None,
    today: dt.date | None = None,
) -> Chart:
    """The course page's chart: one series per tracked instrument (the primary one
    first), the response threshold (half the primary instrument's baseline) and the
    primary instrument's remission cut-off, with a title and a description for
    screen readers. ``scores``: (instrument code, date, total); ``course_days``: the
    course's first and (projected) last treatment day, which the date axis covers so
    the scores are seen against the whole course; ``today``: marked on that axis."""
    primary = INSTRUMENTS[instruments[0]]
    series = [
        SeriesInput(
            INSTRUMENTS[code].name,
            [(day, total) for instrument, day, total in scores if instrument == code],
        )
        for code in instruments
    ]
    thresholds = []
    if baseline:
        thresholds.append(
            ThresholdInput(
                f"Response: {_number(baseline / 2)} (half the baseline of {baseline})",
                baseline / 2,
                "response",
            )
        )
    thresholds.append(
        ThresholdInput(
            f"Remission: below {primary.remission_below}", primary.remission_below, "remission"
        )
    )
    chart = score_chart(
        series,
        max_score=max(INSTRUMENTS[code].max_total for code in instruments),
        thresholds=thresholds,
        period=course_days,
        today=today,
    )
    names = " and ".join(s.label for s in series)
    sentences = []
    for drawn in chart.series:
        if not drawn.points:
            sentences.append(f"No {drawn.label} scores yet.")
            continue
        first, last = drawn.points[0], drawn.points[-1]
        if len(drawn.points) == 1:
            sentences.append(f"{drawn.label}: one score, {first.score} on {first.day:%d %b %Y}.")
        else:
            sentences.append(
                f"{drawn.label}: {len(drawn.points)} scores, from {first.score} on "
                f"{first.day:%d %b %Y} to {last.score} on {last.day:%d %b %Y}."
            )
    if baseline:
        sentences.append(
            f"Response means {primary.name} at or below {_number(baseline / 2)}, half the "
            f"baseline of {baseline}."
        )
    else:
        sentences.append(f"No {primary.name} baseline yet, so no response threshold.")
    sentences.append(f"Remission means {primary.name} below {primary.remission_below}.")
    if course_days is not None:
        start, end = course_days
        sentences.append(
            f"The dates cover the course, from {start:%d %b %Y} to its projected end on "
            f"{end:%d %b %Y}."
        )
    if chart.today_x is not None and today is not None:
        sentences.append(f"A vertical line marks today, {today:%d %b %Y}.")
    return dataclasses.replace(
        chart, title=f"{names} scores over time", description=" ".join(sentences)
    )
