"""The course page's score chart: where points and reference lines land."""

from __future__ import annotations

import datetime as dt

import pytest

from courses.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    WIDTH,
    SeriesInput,
    ThresholdInput,
    course_chart,
    score_chart,
)

DAY = dt.date(2026, 11, 27)
LEFT, RIGHT = MARGIN_LEFT, WIDTH - MARGIN_RIGHT  # 44, 624
TOP, BOTTOM = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM  # 16, 240


def test_known_scores_land_on_known_coordinates() -> None:
    chart = score_chart(
        [
            SeriesInput(
                "PHQ-9",
                [(DAY + dt.timedelta(days=14), 5), (DAY, 20), (DAY + dt.timedelta(days=7), 10)],
            )
        ],
        max_score=27,
    )
    (series,) = chart.series
    # Sorted by date; x spreads 14 days over 580 px, y maps 0..27 onto 240..16.
    assert [(p.day, p.score) for p in series.points] == [
        (DAY, 20),
        (DAY + dt.timedelta(days=7), 10),
        (DAY + dt.timedelta(days=14), 5),
    ]
    assert [(p.x, p.y) for p in series.points] == [(44.0, 74.1), (334.0, 157.0), (624.0, 198.5)]
    assert series.path == "M 44.0 74.1 L 334.0 157.0 L 624.0 198.5"
    assert series.marker == "circle" and series.dash == ""
    assert (chart.left, chart.right, chart.top, chart.bottom) == (LEFT, RIGHT, TOP, BOTTOM)


def test_threshold_lines_sit_at_their_scores() -> None:
    chart = score_chart(
        [SeriesInput("PHQ-9", [(DAY, 18)])],
        max_score=27,
        thresholds=[
            ThresholdInput("Response", 9, "response"),
            ThresholdInput("Remission", 5, "remission"),
            ThresholdInput("Off the scale", 40, "response"),
        ],
    )
    assert [(line.kind, line.y) for line in chart.thresholds] == [
        ("response", round(BOTTOM - 9 / 27 * (BOTTOM - TOP), 1)),  # 165.3
        ("remission", 198.5),
    ]
    assert chart.thresholds[0].y == 165.3


def test_axes_ticks() -> None:
    chart = score_chart(
        [SeriesInput("PHQ-9", [(DAY, 0), (DAY + dt.timedelta(days=20), 27)])], max_score=27
    )
    assert [tick.label for tick in chart.y_ticks] == ["0", "5", "10", "15", "20", "25", "27"]
    assert chart.y_ticks[0].position == BOTTOM and chart.y_ticks[-1].position == TOP
    assert chart.x_ticks[0].label == "27 Nov" and chart.x_ticks[0].position == LEFT
    assert len(chart.x_ticks) <= 6
    assert all(LEFT <= tick.position <= RIGHT for tick in chart.x_ticks)


def test_one_score_is_a_point_without_a_line_and_a_week_wide_axis() -> None:
    chart = score_chart([SeriesInput("PHQ-9", [(DAY, 12)])], max_score=27)
    (point,) = chart.series[0].points
    assert point.x == LEFT
    assert chart.series[0].path == ""
    assert chart.x_ticks[-1].position <= RIGHT


def test_no_scores_is_an_empty_chart() -> None:
    chart = score_chart([SeriesInput("PHQ-9", [])], max_score=27)
    assert chart.is_empty and chart.x_ticks == ()


def test_scores_outside_the_range_are_clamped() -> None:
    chart = score_chart([SeriesInput("PHQ-9", [(DAY, 30)])], max_score=27)
    assert chart.series[0].points[0].y == TOP


def test_second_series_gets_another_marker_and_dash() -> None:
    chart = score_chart(
        [SeriesInput("PHQ-9", [(DAY, 10)]), SeriesInput("GAD-7", [(DAY, 10)])], max_score=27
    )
    first, second = chart.series
    assert first.marker != second.marker and first.dash != second.dash
    assert first.points[0].y == second.points[0].y  # one shared score axis


def test_the_axis_covers_the_period_and_marks_today() -> None:
    scores = [SeriesInput("PHQ-9", [(DAY, 20), (DAY + dt.timedelta(days=7), 14)])]
    period = (DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=60))
    chart = score_chart(scores, max_score=27, period=period, today=DAY + dt.timedelta(days=9))
    # 63 days over 580 px, starting three days before the first score.
    assert [point.x for point in chart.series[0].points] == [71.6, 136.1]
    assert chart.x_ticks[0].label == "24 Nov" and chart.x_ticks[0].position == LEFT
    assert chart.today_x == round(LEFT + 12 / 63 * (RIGHT - LEFT), 1)  # 154.5
    # Scores outside the period still widen the axis: the baseline before session 1.
    early = score_chart(
        scores, max_score=27, period=(DAY + dt.timedelta(days=2), DAY + dt.timedelta(days=30))
    )
    assert early.series[0].points[0].x == LEFT and early.x_ticks[0].label == "27 Nov"
    # Today off the axis, or not given: no line.
    assert (
        score_chart(scores, max_score=27, period=period, today=DAY + dt.timedelta(days=61)).today_x
        is None
    )
    assert score_chart(scores, max_score=27, period=period).today_x is None
    assert score_chart([SeriesInput("PHQ-9", [])], max_score=27, today=DAY).today_x is None


def test_max_score_must_be_positive() -> None:
    with pytest.raises(ValueError):
        score_chart([], max_score=0)


def test_course_chart_lines_and_words() -> None:
    scores = [
        ("phq9", DAY, 18),
        ("gad7", DAY, 14),
        ("phq9", DAY + dt.timedelta(days=28), 8),
        ("gad7", DAY + dt.timedelta(days=28), 6),
        ("hamd17", DAY, 20),  # recorded but not tracked: not charted
    ]
    chart = course_chart(["phq9", "gad7"], scores, baseline=18)
    assert [s.label for s in chart.series] == ["PHQ-9", "GAD-7"]
    assert [len(s.points) for s in chart.series] == [2, 2]
    assert chart.max_score == 27
    response, remission = chart.thresholds
    assert (response.kind, response.value) == ("response", 9)
    assert response.y == round(BOTTOM - 9 / 27 * (BOTTOM - TOP), 1)
    assert (remission.kind, remission.value, remission.y) == ("remission", 5, 198.5)
    assert chart.title == "PHQ-9 and GAD-7 scores over time"
    assert "PHQ-9: 2 scores, from 18 on 27 Nov 2026 to 8 on 25 Dec 2026." in chart.description
    assert "at or below 9, half the baseline of 18" in chart.description
    assert "below 5" in chart.description
    assert "dates cover the course" not in chart.description and chart.today_x is None


def test_course_chart_spans_the_course_and_says_where_today_is() -> None:
    chart = course_chart(
        ["phq9"],
        [("phq9", DAY, 18)],
        baseline=18,
        course_days=(DAY + dt.timedelta(days=3), DAY + dt.timedelta(days=52)),
        today=DAY + dt.timedelta(days=10),
    )
    assert chart.today_x is not None
    assert (
        "The dates cover the course, from 30 Nov 2026 to its projected end on 18 Jan 2027."
        in chart.description
    )
    assert "A vertical line marks today, 07 Dec 2026." in chart.description


def test_course_chart_half_a_baseline_and_no_baseline() -> None:
    odd = course_chart(["phq9"], [("phq9", DAY, 17)], baseline=17)
    assert odd.thresholds[0].value == 8.5 and "8.5" in odd.thresholds[0].label
    none = course_chart(["phq9"], [], baseline=None)
    assert [line.kind for line in none.thresholds] == ["remission"]
    assert "No PHQ-9 baseline yet" in none.description
    assert none.is_empty


def test_course_chart_uses_the_primary_instruments_remission_cut_off() -> None:
    chart = course_chart(["hamd17"], [("hamd17", DAY, 24)], baseline=24)
    assert chart.max_score == 52
    assert chart.thresholds[-1].value == 8  # HAM-D17 remission: 7 or less
