"""The relapse watch's services: enrolment and its schedule, the PHQ-9 answer from a
point, the relapse rule's two branches and their negatives, and closing an entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from clinic.errors import Conflict
from clinic.relapse_settings import add_months, parse_weeks
from courses import relapse as watch
from courses.models import (
    AlertKind,
    AssessmentSource,
    CourseStatus,
    CourseType,
    Relapse,
    RelapseRule,
    RelapseWatch,
    SafetyFlag,
    StaffAlert,
)
from courses.services import course_transition
from tests.factories import ClinicFactory, CourseFactory
from tests.relapse.conftest import ENDED_AT, ENDED_ON, answers

pytestmark = pytest.mark.django_db

DEFAULT_DAYS = [
    dt.date(2026, 12, 15),  # weeks 2, 4, 8, 12
    dt.date(2026, 12, 29),
    dt.date(2027, 1, 26),
    dt.date(2027, 2, 23),
    # monthly from the first month 4 weeks after week 12 (1 March is too close)
    *[dt.date(2027, month, 1) for month in range(4, 13)],
]


def test_the_default_schedule_is_weeks_2_4_8_12_then_monthly_to_12_months(clinic: Any) -> None:
    assert clinic.relapse_watch_days(ENDED_ON) == DEFAULT_DAYS
    assert len(DEFAULT_DAYS) == 13


def test_months_keep_the_day_or_take_the_months_last() -> None:
    assert add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2027, 5, 15), 12) == dt.date(2028, 5, 15)


@pytest.mark.parametrize("text", ["4, 2", "2, 2", "0, 4", "53", "two", "2;4"])
def test_a_week_list_out_of_order_or_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_weeks(text)
    clinic = ClinicFactory.build(relapse_watch_weeks=text)
    with pytest.raises(ValidationError) as refused:
        clinic.full_clean(exclude=["slug"])
    assert "relapse_watch_weeks" in refused.value.message_dict


def test_completing_an_acute_course_starts_the_watch(complete_course: Callable[..., Any]) -> None:
    course = complete_course()
    watch_row = RelapseWatch.objects.get(course=course)
    assert watch_row.started_on == ENDED_ON and watch_row.active
    points = list(watch_row.points.all())
    assert [p.due_on for p in points] == DEFAULT_DAYS
    assert [p.number for p in points] == list(range(1, 14))
    assert all(p.expires_on == p.due_on + dt.timedelta(days=14) for p in points)


def test_no_watch_when_the_clinic_turned_it_off(
    clinic: Any, complete_course: Callable[..., Any]
) -> None:
    clinic.relapse_watch = False
    clinic.save()
    assert not RelapseWatch.objects.filter(course=complete_course()).exists()


def test_a_custom_schedule(clinic: Any, complete_course: Callable[..., Any]) -> None:
    clinic.relapse_watch_weeks, clinic.relapse_watch_months = "1, 3", 2
    clinic.save()
    course = complete_course()
    days = list(course.relapse_watch.points.values_list("due_on", flat=True))
    assert days == [dt.date(2026, 12, 8), dt.date(2026, 12, 22), dt.date(2027, 2, 1)]


def test_no_watch_for_a_discontinued_course_nor_a_booster(
    complete_course: Callable[..., Any], psychiatrist: Any
) -> None:
    stopped = CourseFactory(psychiatrist=psychiatrist, status=CourseStatus.ACTIVE)
    course_transition(stopped, CourseStatus.DISCONTINUED, by=psychiatrist)
    acute = complete_course()
    booster = CourseFactory(
        patient=acute.patient,
        psychiatrist=psychiatrist,
        status=CourseStatus.ACTIVE,
        type=CourseType.BOOSTER,
        follows=acute,
    )
    course_transition(booster, CourseStatus.COMPLETED, by=psychiatrist)
    assert list(RelapseWatch.objects.values_list("course_id", flat=True)) == [acute.pk]


# --- the rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "score", "rise", "expected"),
    [
        (4, 10, 8, RelapseRule.REMITTER),  # a remitter reaching 10 (the rise set high)
        (4, 9, 8, None),  # a remitter below 10
        (5, 10, 8, None),  # 5 is not remission: the remitter branch does not apply
        (12, 17, 5, RelapseRule.RISE),  # any patient rising by 5
        (12, 16, 5, None),  # rising by 4
        (8, 10, 5, None),  # a non-remitter at 10 without the rise
        (3, 10, 5, RelapseRule.BOTH),
        (None, 27, 5, None),  # no clinic score to compare with
    ],
)
def test_the_relapse_rule(
    baseline: int | None, score: int, rise: int, expected: str | None
) -> None:
    clinic = ClinicFactory.build(relapse_rise=rise)
    assert watch.relapse_rule(score, baseline, clinic) == expected


def test_the_thresholds_are_the_clinics(clinic: Any) -> None:
    clinic.relapse_remitter_score, clinic.relapse_rise = 8, 10
    assert watch.relapse_rule(8, 2, clinic) == RelapseRule.REMITTER
    assert watch.relapse_rule(12, 2, clinic) == RelapseRule.BOTH
    assert watch.relapse_rule(7, 2, clinic) is None


# --- answering ----------------------------------------------------------------------------


def _due(point: Any) -> Any:
    """The clock on the point's day, mid-afternoon in New York."""
    return time_machine.travel(
        dt.datetime.combine(point.due_on, dt.time(19, 0), tzinfo=dt.UTC), tick=False
    )


def test_an_answer_is_a_patient_reported_assessment_of_the_course(
    complete_course: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    course = complete_course(last_score=4)
    point = course.relapse_watch.points.first()
    with _due(point), django_capture_on_commit_callbacks() as callbacks:
        result = watch.watch_answer(point, answers(7))
    assessment = result.assessment
    assert (assessment.score, assessment.items, assessment.source) == (
        7,
        answers(7),
        AssessmentSource.PATIENT_REPORTED,
    )
    assert assessment.course == course and assessment.recorded_by is None
    assert assessment.administered_on == point.due_on
    point.refresh_from_db()
    assert point.assessment == assessment and point.answered_at is not None
    assert result.relapse is None and not result.safety_flag
    assert not StaffAlert.objects.exists() and callbacks == []


def test_a_link_answers_once(complete_course: Callable[..., Any]) -> None:
    point = complete_course().relapse_watch.points.first()
    with _due(point):
        watch.watch_answer(point, answers(3))
        with pytest.raises(Conflict) as refused:
            watch.watch_answer(point, answers(20))
    assert refused.value.code == "link_used"
    assert course_scores(point) == [4, 3]


def course_scores(point: Any) -> list[int]:
    return list(point.watch.course.assessments.values_list("score", flat=True))


@pytest.mark.parametrize(("days_after_due", "code"), [(15, "link_expired"), (-1, "link_not_yet")])
def test_a_link_works_from_its_day_for_14_days(
    complete_course: Callable[..., Any], days_after_due: int, code: str
) -> None:
    point = complete_course().relapse_watch.points.first()
    moment = dt.datetime.combine(
        point.due_on + dt.timedelta(days=days_after_due), dt.time(19), tzinfo=dt.UTC
    )
    with time_machine.travel(moment, tick=False), pytest.raises(Conflict) as refused:
        watch.watch_answer(point, answers(3))
    assert refused.value.code == code
    last_day = dt.datetime.combine(point.expires_on, dt.time(23, 0), tzinfo=watch_tz(point))
    with time_machine.travel(last_day, tick=False):
        assert watch.watch_answer(point, answers(3)).assessment.score == 3


def watch_tz(point: Any) -> Any:
    return point.watch.course.patient.clinic.tz


def test_a_stopped_watch_answers_nothing(complete_course: Callable[..., Any]) -> None:
    point = complete_course().relapse_watch.points.first()
    RelapseWatch.objects.update(active=False)
    with _due(point), pytest.raises(Conflict) as refused:
        watch.watch_answer(point, answers(3))
    assert refused.value.code == "link_stopped"


def test_wrong_answers_are_refused(complete_course: Callable[..., Any]) -> None:
    point = complete_course().relapse_watch.points.first()
    with _due(point), pytest.raises(ValidationError):
        watch.watch_answer(point, [0] * 8 + [4])
    point.refresh_from_db()
    assert point.answered_at is None


def test_item_9_raises_the_safety_flag_and_alerts_at_once(
    complete_course: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    course = complete_course(last_score=6)
    point = course.relapse_watch.points.first()
    with _due(point), django_capture_on_commit_callbacks() as callbacks:
        result = watch.watch_answer(point, answers(7, item9=1))
    assert result.safety_flag and result.relapse is None
    flag = SafetyFlag.objects.get()
    assert (flag.assessment, flag.item_value) == (result.assessment, 1)
    alert = StaffAlert.objects.get()
    assert (alert.kind, alert.recipient) == (AlertKind.SAFETY_FLAG, course.psychiatrist)
    assert len(callbacks) == 1  # its email, queued for after the commit


def test_a_relapse_alerts_the_psychiatrist_and_lists_the_course(
    complete_course: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    course = complete_course(last_score=4)
    point = course.relapse_watch.points.all()[2]
    with _due(point), django_capture_on_commit_callbacks() as callbacks:
        result = watch.watch_answer(point, answers(12))
    entry = Relapse.objects.get()
    assert result.relapse == entry
    assert (entry.course, entry.rule, entry.score, entry.baseline) == (
        course,
        RelapseRule.BOTH,
        12,
        4,
    )
    assert entry.closed_at is None
    alert = StaffAlert.objects.get(kind=AlertKind.RELAPSE)
    assert alert.recipient == course.psychiatrist and alert.key == f"relapse:{entry.pk}"
    assert "PHQ-9 of 12" in alert.detail and course.patient.last_name not in alert.detail
    assert len(callbacks) == 1


def test_the_rise_counts_from_the_last_clinic_score_not_an_earlier_answer(
    complete_course: Callable[..., Any],
) -> None:
    course = complete_course(last_score=12)
    first, second = course.relapse_watch.points.all()[:2]
    with _due(first):
        assert watch.watch_answer(first, answers(16)).relapse is None  # +4
    with _due(second):
        assert watch.watch_answer(second, answers(17)).relapse.rule == RelapseRule.RISE  # +5


def test_closing_an_entry_settles_its_alert_once(
    complete_course: Callable[..., Any], psychiatrist: Any
) -> None:
    course = complete_course(last_score=2)
    point = course.relapse_watch.points.first()
    with _due(point):
        entry = watch.watch_answer(point, answers(15)).relapse
    closed = watch.relapse_close(entry, by=psychiatrist, note="Booster offered by phone")
    assert closed.closed_by == psychiatrist and closed.close_note == "Booster offered by phone"
    first_close = closed.closed_at
    again = watch.relapse_close(entry, by=psychiatrist, note="other")
    assert (again.closed_at, again.close_note) == (first_close, "Booster offered by phone")
    assert StaffAlert.objects.get(kind=AlertKind.RELAPSE).acknowledged_at is not None


def test_the_watch_is_enrolled_at_the_clinic_local_end(
    clinic: Any, complete_course: Callable[..., Any]
) -> None:
    """Completed at 21:30 in New York on 1 December: 02:30 on the 2nd in UTC."""
    late = dt.datetime(2026, 12, 2, 2, 30, tzinfo=dt.UTC)
    course = complete_course(at=late)
    assert course.relapse_watch.started_on == ENDED_ON
    assert late > ENDED_AT


def test_a_new_course_stops_the_watch(
    complete_course: Callable[..., Any], psychiatrist: Any
) -> None:
    """The patient starts a booster: no more questionnaires about the course before."""
    acute = complete_course()
    booster = CourseFactory(
        patient=acute.patient,
        psychiatrist=psychiatrist,
        type=CourseType.BOOSTER,
        follows=acute,
    )
    other = complete_course()  # another patient's watch goes on
    course_transition(booster, CourseStatus.ACTIVE, by=psychiatrist)
    acute.relapse_watch.refresh_from_db()
    assert not acute.relapse_watch.active
    assert acute.relapse_watch.stopped_reason == f"Course {booster.pk} started."
    assert RelapseWatch.objects.get(course=other).active
    point = acute.relapse_watch.points.first()
    with _due(point), pytest.raises(Conflict) as refused:
        watch.watch_answer(point, answers(3))
    assert refused.value.code == "link_stopped"


def test_the_watchs_scores_are_not_the_courses_outcome(
    complete_course: Callable[..., Any],
) -> None:
    """A relapse months later does not turn a remitted course into a non-remitted one
    in its outcome (the outcomes report, the course page)."""
    from courses.selectors import course_outcomes

    course = complete_course(last_score=4)
    before = course_outcomes(course)
    point = course.relapse_watch.points.first()
    with _due(point):
        watch.watch_answer(point, answers(20))
    assert course_outcomes(course) == before
