"""Course types: maintenance phases every 2 and 4 weeks across DST and closures, a
booster linked to its acute course, the motor threshold reused instead of mapping,
and the risk rules each type is judged by."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from courses.models import CourseStatus, CourseType, TreatmentCourse
from courses.services import course_create
from scheduling.models import Session, SessionStatus
from scheduling.risk import progress
from scheduling.risk_facts import load_facts
from scheduling.risk_rules import rules_in_words
from scheduling.services import course_schedule
from tests.factories import (
    ClosureFactory,
    CourseFactory,
    MotorThresholdFactory,
    SessionFactory,
    catalog_protocol,
)
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def acute(make_course: Callable[..., Any]) -> Any:
    """An acute course that ended before the maintenance courses below start."""
    return make_course(status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))


def _following(acute: Any, kind: str, protocol: str, start: dt.date, **fields: Any) -> Any:
    return CourseFactory(
        patient=acute.patient,
        psychiatrist=acute.psychiatrist,
        protocol=catalog_protocol(protocol),
        type=kind,
        follows=acute,
        start_date=start,
        preferred_time=dt.time(9, 30),
        **fields,
    )


def _local(sessions: list[Session], tz: Any) -> list[dt.datetime]:
    return [s.starts_at.astimezone(tz) for s in sessions]


def _booked(course: Any) -> list[Session]:
    return list(Session.objects.filter(course=course).order_by("starts_at"))


def test_maintenance_every_2_and_4_weeks_across_the_spring_dst_change(
    acute: Any, chairs: list[Any], clinic: Any
) -> None:
    course = _following(acute, CourseType.MAINTENANCE, "maintenance-10hz", dt.date(2027, 1, 4))
    course_schedule(course)
    local = _local(_booked(course), clinic.tz)
    assert [moment.date() for moment in local] == [
        # once a week for a month
        dt.date(2027, 1, 4),
        dt.date(2027, 1, 11),
        dt.date(2027, 1, 18),
        dt.date(2027, 1, 25),
        # every 2 weeks: New York springs forward on Sunday 14 March
        dt.date(2027, 2, 1),
        dt.date(2027, 2, 15),
        dt.date(2027, 3, 1),
        dt.date(2027, 3, 15),
        # every 4 weeks
        dt.date(2027, 3, 22),
        dt.date(2027, 4, 19),
        dt.date(2027, 5, 17),
    ]
    assert {moment.time() for moment in local} == {dt.time(9, 30)}
    offsets = {moment.date(): moment.utcoffset() for moment in local}
    assert offsets[dt.date(2027, 3, 1)] == dt.timedelta(hours=-5)
    assert offsets[dt.date(2027, 3, 15)] == dt.timedelta(hours=-4)
    assert [s.phase for s in _booked(course)] == [1] * 4 + [2] * 4 + [3] * 3


def test_maintenance_across_the_autumn_dst_change_and_closures(
    acute: Any, chairs: list[Any], clinic: Any
) -> None:
    # Closed on a due day of each sparse phase: the session moves to the next open day
    # and the rhythm after it stays where it was (not shifted by a day, not a month late).
    ClosureFactory(clinic=clinic, date=dt.date(2027, 8, 16))
    ClosureFactory(clinic=clinic, date=dt.date(2027, 10, 18))
    ClosureFactory(clinic=clinic, date=dt.date(2027, 10, 19))
    course = _following(acute, CourseType.MAINTENANCE, "maintenance-10hz", dt.date(2027, 7, 5))
    course_schedule(course)
    local = _local(_booked(course), clinic.tz)
    assert [moment.date() for moment in local] == [
        dt.date(2027, 7, 5),
        dt.date(2027, 7, 12),
        dt.date(2027, 7, 19),
        dt.date(2027, 7, 26),
        dt.date(2027, 8, 2),
        dt.date(2027, 8, 17),  # 16 Aug closed
        dt.date(2027, 8, 30),
        dt.date(2027, 9, 13),
        dt.date(2027, 9, 20),
        dt.date(2027, 10, 20),  # 18 and 19 Oct closed
        dt.date(2027, 11, 15),  # New York falls back on Sunday 7 November
    ]
    assert {moment.time() for moment in local} == {dt.time(9, 30)}
    assert local[-2].utcoffset() == dt.timedelta(hours=-4)
    assert local[-1].utcoffset() == dt.timedelta(hours=-5)


def test_first_session_maps_unless_a_recent_threshold_exists(
    acute: Any, chairs: list[Any], clinic: Any
) -> None:
    start = dt.date(2027, 1, 4)
    course = _following(acute, CourseType.MAINTENANCE, "maintenance-10hz", start)
    course_schedule(course)
    first = _booked(course)[0]
    assert first.kind == "mapping"
    assert first.ends_at - first.starts_at == dt.timedelta(minutes=60)


def test_recent_motor_threshold_is_reused_instead_of_mapping(
    acute: Any, chairs: list[Any], clinic: Any
) -> None:
    start = dt.date(2027, 1, 4)
    threshold = MotorThresholdFactory(course=acute, measured_on=start - dt.timedelta(days=90))
    course = _following(acute, CourseType.MAINTENANCE, "maintenance-10hz", start)
    course_schedule(course)
    sessions = _booked(course)
    assert [s.kind for s in sessions] == ["continuation"] * 11
    assert sessions[0].ends_at - sessions[0].starts_at == dt.timedelta(minutes=40)
    course.refresh_from_db()
    assert course.mapping_reused_from == threshold
    assert progress(load_facts([course.pk])[0]).sessions_total == 11


def test_threshold_older_than_the_clinic_setting_is_not_reused(
    acute: Any, chairs: list[Any], clinic: Any
) -> None:
    clinic.motor_threshold_valid_days = 30
    clinic.save()
    start = dt.date(2027, 1, 4)
    MotorThresholdFactory(course=acute, measured_on=start - dt.timedelta(days=31))
    course = _following(acute, CourseType.BOOSTER, "booster-10hz-week", start)
    course_schedule(course)
    assert [s.kind for s in _booked(course)] == ["mapping"] + ["treatment"] * 4


def test_an_acute_course_always_maps(make_course: Any, acute: Any, chairs: list[Any]) -> None:
    MotorThresholdFactory(course=acute, measured_on=dt.date(2026, 11, 20))
    course = CourseFactory(
        patient=acute.patient,
        psychiatrist=acute.psychiatrist,
        protocol=catalog_protocol("10hz-standard"),
        follows=acute,
        start_date=dt.date(2026, 11, 30),
    )
    course_schedule(course)
    assert _booked(course)[0].kind == "mapping"


def test_booster_links_to_its_acute_course(acute: Any, psychiatrist: Any) -> None:
    booster = course_create(
        patient=acute.patient,
        psychiatrist=psychiatrist,
        protocol=catalog_protocol("booster-10hz-week"),
        indication="mdd",
        start_date=dt.date(2026, 12, 7),
        preferred_time=dt.time(10),
        type=CourseType.BOOSTER,
        follows=acute,
    )
    assert booster.follows == acute
    assert list(acute.followed_by.all()) == [booster]


@pytest.mark.parametrize(
    ("situation", "code"),
    [
        ("none", "follows_required"),
        ("other_patient", "follows_other_patient"),
        ("open", "follows_open"),
        ("before_end", "starts_before_followed_end"),
    ],
)
def test_the_course_followed_is_checked(
    situation: str, code: str, acute: Any, make_course: Any, psychiatrist: Any
) -> None:
    follows: Any = acute
    start = dt.date(2026, 12, 7)
    if situation == "none":
        follows = None
    elif situation == "other_patient":
        follows = make_course(status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 1))
    elif situation == "open":
        TreatmentCourse.objects.filter(pk=acute.pk).update(status=CourseStatus.ACTIVE)
        follows = TreatmentCourse.objects.get(pk=acute.pk)
    else:
        start = dt.date(2026, 11, 19)
    with pytest.raises(ValidationError) as refused:
        course_create(
            patient=acute.patient,
            psychiatrist=psychiatrist,
            protocol=catalog_protocol("maintenance-10hz"),
            indication="mdd",
            start_date=start,
            preferred_time=dt.time(10),
            type=CourseType.MAINTENANCE,
            follows=follows,
        )
    codes = [error.code for errors in refused.value.error_dict.values() for error in errors]
    assert codes == [code]


def test_database_holds_the_type_and_follows_rules(acute: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentCourse.objects.filter(pk=acute.pk).update(type=CourseType.MAINTENANCE)
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentCourse.objects.filter(pk=acute.pk).update(type="weekly")
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentCourse.objects.filter(pk=acute.pk).update(follows=acute.pk)


def _write(course: Any, chair: Any, day: dt.date, status: str, phase: int = 1) -> None:
    starts = dt.datetime.combine(day, dt.time(9, 30), tzinfo=course.patient.clinic.tz)
    SessionFactory(
        course=course,
        chair=chair,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=40),
        status=status,
        kind="continuation",
        phase=phase,
    )


def _reasons(course: Any) -> dict[str, str]:
    return {r.code: r.level for r in progress(load_facts([course.pk])[0], NOW).reasons}


@pytest.mark.parametrize(("days_ago", "level"), [(13, None), (14, "watch"), (21, "at_risk")])
def test_maintenance_gap_is_judged_against_its_cadence(
    days_ago: int, level: str | None, acute: Any, chairs: list[Any]
) -> None:
    # A weekly phase: a session due every 7 days; 7 days late is watch, 14 at risk.
    course = _following(
        acute, CourseType.MAINTENANCE, "maintenance-10hz", dt.date(2026, 10, 5), status="active"
    )
    today = NOW.date()
    _write(course, chairs[0], today - dt.timedelta(days=days_ago), SessionStatus.COMPLETED)
    _write(course, chairs[0], today + dt.timedelta(days=7), SessionStatus.SCHEDULED)
    assert _reasons(course).get("treatment_gap") == level


def test_a_step_down_to_every_two_weeks_is_not_a_gap(acute: Any, chairs: list[Any]) -> None:
    course = _following(
        acute, CourseType.MAINTENANCE, "maintenance-10hz", dt.date(2026, 10, 5), status="active"
    )
    today = NOW.date()
    _write(course, chairs[0], today - dt.timedelta(days=15), SessionStatus.COMPLETED, phase=1)
    _write(course, chairs[0], today + dt.timedelta(days=1), SessionStatus.SCHEDULED, phase=2)
    assert "treatment_gap" not in _reasons(course)


def test_an_acute_course_after_three_clinic_days_is_watched_but_maintenance_is_not(
    acute: Any, chairs: list[Any]
) -> None:
    course = _following(
        acute, CourseType.MAINTENANCE, "maintenance-10hz", dt.date(2026, 10, 5), status="active"
    )
    _write(course, chairs[0], dt.date(2026, 11, 19), SessionStatus.COMPLETED)
    assert "treatment_gap" not in _reasons(course)
    course.type = CourseType.ACUTE
    course.follows = None
    course.save()
    assert _reasons(course)["treatment_gap"] == "watch"  # 20, 23, 24 Nov: 3 clinic days


def test_one_missed_booster_session_is_watched(acute: Any, chairs: list[Any]) -> None:
    course = _following(
        acute, CourseType.BOOSTER, "booster-10hz-week", dt.date(2026, 11, 23), status="active"
    )
    _write(course, chairs[0], dt.date(2026, 11, 23), SessionStatus.COMPLETED)
    _write(course, chairs[0], dt.date(2026, 11, 24), SessionStatus.MISSED)
    _write(course, chairs[0], dt.date(2026, 11, 25), SessionStatus.COMPLETED)
    assert _reasons(course)["missed_share"] == "watch"
    course.type = CourseType.ACUTE
    course.follows = None
    course.save()
    assert _reasons(course)["missed_share"] == "watch"  # 1 of 5 is 20%: above 10%


def test_rules_are_said_in_words_per_type(acute: Any) -> None:
    course = _following(acute, CourseType.MAINTENANCE, "maintenance-10hz", dt.date(2027, 1, 4))
    words = dict(rules_in_words(course, list(course.protocol.phases.all())))
    assert "3 continuation sessions, 1 every 4 weeks" in words["Gap in treatment"]
    assert "longest interval" in words["Course window"]
    assert "More than 15% missed" in words["Missed sessions"]
    words = dict(rules_in_words(acute, list(acute.protocol.phases.all())))
    assert "3 open clinic days" in words["Gap in treatment"]
    assert "during the first phase" in words["Gap in treatment"]
