"""The one-action booster course (scheduling.services.booster_book): prescribed after an
ended course, planned and booked all or nothing; the preview writes nothing; the
mapping rule with and without a recent motor threshold; each refusal; DST."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from clinic.errors import Conflict
from clinic.models import Role
from clinic.opening_time import next_open_day
from courses.models import CourseStatus, CourseType, TreatmentCourse
from courses.selectors import booster_protocols
from notifications.models import Notification
from scheduling.models import Session
from scheduling.services import booster_book
from tests.factories import (
    ChairBlockFactory,
    ClosureFactory,
    MembershipFactory,
    MotorThresholdFactory,
    ProtocolFactory,
    ScreeningFactory,
    catalog_protocol,
)

pytestmark = pytest.mark.usefixtures("frozen_now")

MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def acute(make_course: Any) -> Any:
    return make_course(
        status=CourseStatus.COMPLETED,
        completed_on=dt.date(2026, 11, 20),
        indication="mdd_anxiety",
        diagnosis_code="F33.1",
        prescribed_coil_position="F3 (Beam method)",
        at=dt.time(8, 30),
    )


def _book(acute: Any, by: Any, **options: Any) -> Any:
    if "protocol" not in options:
        options["protocol"] = catalog_protocol("booster-10hz-week")
    return booster_book(acute, by=by, **{"start_date": MONDAY, **options})


def _stored() -> tuple[int, int, int]:
    return (
        TreatmentCourse.objects.count(),
        Session.objects.count(),
        Notification.objects.count(),
    )


def test_a_booster_is_prescribed_planned_and_booked_after_the_acute_course(
    acute: Any, chairs: list[Any], psychiatrist: Any, clinic: Any
) -> None:
    other_psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    result = _book(acute, other_psychiatrist)
    booster = TreatmentCourse.objects.get(pk=result.course.pk)
    assert (booster.type, booster.follows, booster.patient) == (
        CourseType.BOOSTER,
        acute,
        acute.patient,
    )
    assert booster.psychiatrist == other_psychiatrist  # the one acting prescribes it
    assert (booster.indication, booster.diagnosis_code, booster.primary_instrument) == (
        "mdd_anxiety",
        "F33.1",
        acute.primary_instrument,
    )
    assert booster.prescribed_coil_position == "F3 (Beam method)"  # same target
    assert booster.preferred_time == dt.time(8, 30)  # the followed course's by default
    assert booster.status == CourseStatus.PLANNED
    sessions = list(Session.objects.filter(course=booster).order_by("starts_at"))
    assert [s.starts_at.astimezone(clinic.tz).date() for s in sessions] == [
        MONDAY + dt.timedelta(days=n) for n in range(5)
    ]
    assert [s.kind for s in sessions] == ["mapping"] + ["treatment"] * 4
    assert result.reused_threshold is None and booster.mapping_reused_from is None
    assert [s.pk for s in result.booking.sessions] == [s.pk for s in sessions]
    # The patient hears of the bookings (the outbox rows of any booking).
    assert Notification.objects.filter(session__course=booster).exists()
    assert list(acute.followed_by.all()) == [booster]


def test_a_recent_motor_threshold_is_reused_instead_of_mapping(
    acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    threshold = MotorThresholdFactory(course=acute, measured_on=MONDAY - dt.timedelta(days=90))
    result = _book(acute, psychiatrist)
    booster = TreatmentCourse.objects.get(pk=result.course.pk)
    sessions = list(Session.objects.filter(course=booster).order_by("starts_at"))
    assert [s.kind for s in sessions] == ["treatment"] * 5
    assert sessions[0].ends_at - sessions[0].starts_at == dt.timedelta(minutes=40)
    assert booster.mapping_reused_from == threshold == result.reused_threshold


def test_a_threshold_older_than_the_clinic_setting_is_not_reused(
    acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    MotorThresholdFactory(course=acute, measured_on=MONDAY - dt.timedelta(days=91))
    result = _book(acute, psychiatrist)
    kinds = Session.objects.filter(course_id=result.course.pk).order_by("starts_at")
    assert [s.kind for s in kinds] == ["mapping"] + ["treatment"] * 4
    assert result.reused_threshold is None


def test_the_preview_writes_nothing_and_is_what_confirming_books(
    acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    MotorThresholdFactory(course=acute, measured_on=dt.date(2026, 11, 10))
    before = _stored()
    preview = _book(acute, psychiatrist, preview=True)
    assert _stored() == before
    assert preview.course.pk is None
    assert {session.pk for session in preview.booking.sessions} == {None}
    assert preview.reused_threshold is not None
    planned = [(s.starts_at, s.chair_id, s.kind) for s in preview.booking.sessions]
    assert len(planned) == 5
    done = _book(acute, psychiatrist)
    assert [(s.starts_at, s.chair_id, s.kind) for s in done.booking.sessions] == planned


def test_nothing_is_written_when_one_session_does_not_fit(
    acute: Any, chairs: list[Any], psychiatrist: Any, clinic: Any
) -> None:
    for chair in chairs:
        ChairBlockFactory(
            chair=chair,
            starts_at=dt.datetime(2026, 12, 2, 7, tzinfo=clinic.tz),
            ends_at=dt.datetime(2026, 12, 2, 19, tzinfo=clinic.tz),
        )
    before = _stored()
    with pytest.raises(Conflict) as refused:
        _book(acute, psychiatrist)
    assert refused.value.code == "slot_conflict"
    assert [entry["date"] for entry in refused.value.conflicts] == ["2026-12-02"]
    assert _stored() == before
    assert not acute.followed_by.exists()


def test_a_booster_keeps_its_wall_clock_time_across_the_spring_dst_change(
    make_course: Any, chairs: list[Any], psychiatrist: Any, clinic: Any
) -> None:
    ended = make_course(
        status=CourseStatus.COMPLETED, completed_on=dt.date(2027, 3, 1), at=dt.time(9, 30)
    )
    # Friday 12 March; New York springs forward on Sunday 14 March 2027.
    result = _book(ended, psychiatrist, start_date=dt.date(2027, 3, 12))
    local = [s.starts_at.astimezone(clinic.tz) for s in result.booking.sessions]
    assert [moment.date() for moment in local] == [
        dt.date(2027, 3, 12),
        dt.date(2027, 3, 15),
        dt.date(2027, 3, 16),
        dt.date(2027, 3, 17),
        dt.date(2027, 3, 18),
    ]
    assert {moment.time() for moment in local} == {dt.time(9, 30)}
    assert local[0].utcoffset() == dt.timedelta(hours=-5)
    assert local[1].utcoffset() == dt.timedelta(hours=-4)


def test_time_and_chair_preferences_are_kept(
    acute: Any, chairs: list[Any], psychiatrist: Any, clinic: Any
) -> None:
    result = _book(acute, psychiatrist, preferred_time=dt.time(15), preferred_chair=chairs[2])
    sessions = result.booking.sessions
    assert {s.chair_id for s in sessions} == {chairs[2].pk}
    assert {s.starts_at.astimezone(clinic.tz).time() for s in sessions} == {dt.time(15)}


def test_a_repeated_acute_protocol_may_be_the_booster(
    acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    result = _book(acute, psychiatrist, protocol=catalog_protocol("itbs"))
    assert len(result.booking.sessions) == 36
    assert TreatmentCourse.objects.get(pk=result.course.pk).type == CourseType.BOOSTER


def _codes(refused: ValidationError) -> dict[str, list[str]]:
    return {
        field: [str(error.code) for error in errors] for field, errors in refused.error_dict.items()
    }


def test_an_open_course_cannot_be_followed(
    make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    active = make_course(status=CourseStatus.ACTIVE, start=dt.date(2026, 11, 2))
    with pytest.raises(Conflict) as refused:
        _book(active, psychiatrist)
    assert refused.value.code == "course_not_ended"


def test_another_open_course_of_the_patient_is_refused(
    acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    _book(acute, psychiatrist)  # the first booster is open now
    with pytest.raises(Conflict) as refused:
        _book(acute, psychiatrist, start_date=dt.date(2026, 12, 14))
    assert refused.value.code == "course_exists"


def test_a_screening_not_cleared_is_refused(
    acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    ScreeningFactory(patient=acute.patient)  # a new screening, not yet cleared
    before = _stored()
    with pytest.raises(Conflict) as refused:
        _book(acute, psychiatrist)
    assert refused.value.code == "screening_required"
    assert _stored() == before


def test_a_maintenance_protocol_is_not_a_booster(
    acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        _book(acute, psychiatrist, protocol=catalog_protocol("maintenance-10hz"))
    assert _codes(refused.value) == {"protocol": ["not_booster_protocol"]}


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (dt.date(2026, 11, 19), "starts_before_followed_end"),
        (dt.date(2028, 1, 3), "out_of_range"),
    ],
)
def test_the_start_date_is_checked(
    start: dt.date, code: str, acute: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        _book(acute, psychiatrist, start_date=start)
    assert _codes(refused.value) == {"start_date": [code]}


def test_a_start_in_the_past_is_refused(acute: Any, chairs: list[Any], psychiatrist: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        _book(acute, psychiatrist, start_date=dt.date(2026, 11, 23))
    assert "start_date" in refused.value.error_dict
    assert _stored()[0] == 1


def test_only_a_psychiatrist_of_the_clinic_prescribes_it(
    acute: Any, chairs: list[Any], staff: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        _book(acute, staff(Role.FRONT_DESK))
    assert set(refused.value.error_dict) == {"psychiatrist"}


# PostgreSQL's count: SQLite's differs (savepoints, and bulk_create split at 999
# parameters), as for the planner's query-count test.
@pytest.mark.postgres
def test_the_preview_costs_the_same_queries_whatever_the_length(
    acute: Any,
    chairs: list[Any],
    psychiatrist: Any,
    django_assert_num_queries: Any,
) -> None:
    for code in ("booster-10hz-week", "10hz-standard"):
        protocol = catalog_protocol(code)
        with django_assert_num_queries(QUERIES_PREVIEW):
            _book(acute, psychiatrist, protocol=protocol, preview=True)


# The followed course, the protocol's phases, then prescribing and booking's own (the
# prescribing page's preview costs the same less those two), and the threshold reused.
QUERIES_PREVIEW = 33


def test_booster_protocols_put_the_seeded_booster_first(clinic: Any, other_clinic: Any) -> None:
    codes = [protocol.code for protocol in booster_protocols(clinic.pk)]
    assert codes[0] == "booster-10hz-week"
    assert {"itbs", "10hz-standard", "snt-accelerated"} <= set(codes)
    assert "maintenance-10hz" not in codes
    own = ProtocolFactory(clinic=clinic, code="booster-10hz-week", name="Our booster")
    ProtocolFactory(clinic=other_clinic, code="theirs")
    listed = booster_protocols(clinic.pk)
    assert listed[:2] == [own, catalog_protocol("booster-10hz-week")]
    assert "theirs" not in {protocol.code for protocol in listed}


def test_the_next_open_day_skips_weekends_and_closures(clinic: Any) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 11, 30))
    # Friday 27 Nov is open; from Saturday on, Monday 30 is closed: Tuesday 1 Dec.
    assert next_open_day(clinic, dt.date(2026, 11, 27)) == dt.date(2026, 11, 27)
    assert next_open_day(clinic, dt.date(2026, 11, 28)) == dt.date(2026, 12, 1)


def test_a_discontinued_course_is_followed_from_the_day_it_stopped(
    make_course: Any, chairs: list[Any], psychiatrist: Any, clinic: Any
) -> None:
    stopped = dt.datetime(2026, 11, 24, 15, tzinfo=clinic.tz)
    discontinued = make_course(
        status=CourseStatus.DISCONTINUED, start=dt.date(2026, 11, 2), status_changed_at=stopped
    )
    with pytest.raises(ValidationError) as refused:
        _book(discontinued, psychiatrist, start_date=dt.date(2026, 11, 23))
    assert _codes(refused.value) == {"start_date": ["starts_before_followed_end"]}
    result = _book(discontinued, psychiatrist, start_date=dt.date(2026, 11, 30))
    assert TreatmentCourse.objects.get(pk=result.course.pk).follows == discontinued
