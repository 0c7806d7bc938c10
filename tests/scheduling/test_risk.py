"""Course risk: every reason appears in its situation, at its level, and goes away when
the situation changes; the stored level follows; progress over the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import F

from clinic.models import Closure, Role
from courses.models import Assessment, CourseStatus, SafetyFlag, StaffAlert, TreatmentCourse
from courses.services import (
    assessment_record,
    authorization_add,
    course_transition,
    safety_flag_acknowledge,
)
from scheduling.models import Session, SessionStatus
from scheduling.risk import LEVEL_ORDER, recompute_open_courses, recompute_risk
from scheduling.selectors import course_progress
from scheduling.services import (
    arrange_makeups_and_refresh,
    course_schedule,
    session_cancel,
    session_check_in,
    session_complete,
    session_move,
)
from tests.factories import AssessmentFactory, MembershipFactory, ProtocolFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.usefixtures("frozen_now")

NEW_YORK = dt.timezone(dt.timedelta(hours=-5))  # EST: every date used here is after 1 Nov
TODAY = dt.date(2026, 11, 25)  # NOW is Wednesday 25 November, 12:00 in New York
STARTED = dt.date(2026, 11, 2)  # a Monday; by NOW sessions 1-18 (2-25 Nov) lie behind us
PHQ9_SELF_HARM = [2, 2, 2, 1, 1, 1, 1, 1, 1]  # item 9 above 0


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def _sessions(course: Any) -> list[Session]:
    return list(Session.objects.filter(course=course).order_by("starts_at", "id"))


def _on(course: Any, day: dt.date) -> Session:
    return Session.objects.get(
        course=course, starts_at__gte=_local(day, 0), starts_at__lt=_local(day, 23, 59)
    )


def _set_status(sessions: list[Session], status: str) -> None:
    stamp = {
        SessionStatus.MISSED: {"missed_at": NOW},
        SessionStatus.CANCELLED: {"cancelled_at": NOW},
        SessionStatus.COMPLETED: {
            "checked_in_at": F("starts_at"),
            "completed_at": F("ends_at"),
            "missed_at": None,
        },
    }[status]
    Session.objects.filter(pk__in=[s.pk for s in sessions]).update(status=status, **stamp)


def _reasons(course: Any) -> dict[str, str]:
    details = course_progress(course)["risk"]["details"]
    return {detail["code"]: detail["level"] for detail in details}


def _stored(course: Any) -> str:
    return TreatmentCourse.objects.get(pk=course.pk).risk_level


def _refresh(course: Any) -> str:
    recompute_risk([course.pk])
    return _stored(course)


@pytest.fixture
def technician(clinic: Any) -> Any:
    return MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user


@pytest.fixture
def attend(technician: Any) -> Callable[[Session], Session]:
    """The patient comes in: check-in and a completed treatment, through the services."""

    def run(session: Session) -> Session:
        session_check_in(session)
        return session_complete(
            session,
            technician=technician,
            pulses_delivered=3000,
            intensity_pct_mt=120,
            coil_position="F3 (Beam F3)",
        )

    return run


@pytest.fixture
def under_way(make_course: Callable[..., Any], chairs: list[Any]) -> Callable[..., Any]:
    """An active course begun on ``start`` with every session before now completed, a
    PHQ-9 baseline three days before session 1 and a PHQ-9 two days ago: no reasons."""

    def make(start: dt.date = STARTED, protocol: Any = None, **fields: Any) -> Any:
        course = make_course(start=start, **fields)
        if protocol is not None:
            TreatmentCourse.objects.filter(pk=course.pk).update(protocol=protocol)
            course.refresh_from_db()
        course_schedule(course, allow_past=True)
        TreatmentCourse.objects.filter(pk=course.pk).update(status=CourseStatus.ACTIVE)
        _set_status([s for s in _sessions(course) if s.starts_at < NOW], SessionStatus.COMPLETED)
        AssessmentFactory(course=course, score=20, administered_on=start - dt.timedelta(days=3))
        AssessmentFactory(course=course, score=14, administered_on=TODAY - dt.timedelta(days=2))
        recompute_risk([course.pk])
        course.refresh_from_db()
        return course

    return make


@pytest.fixture
def booked(make_course: Callable[..., Any], chairs: list[Any]) -> Callable[..., Any]:
    """A planned course starting Monday 30 November, fully booked, with a baseline."""

    def make(**fields: Any) -> Any:
        course = make_course(**fields)
        course_schedule(course)
        AssessmentFactory(course=course, score=20, administered_on=TODAY)
        recompute_risk([course.pk])
        course.refresh_from_db()
        return course

    return make


def _authorize(course: Any, sessions: int, until: dt.date = dt.date(2027, 4, 30)) -> Any:
    return authorization_add(
        course,
        payer="Aetna",
        number=f"PA-{course.pk}-{sessions}-{until:%m%d}",
        sessions_authorized=sessions,
        valid_from=dt.date(2026, 10, 1),
        valid_until=until,
    )


# --- the healthy baselines -------------------------------------------------------------


def test_a_course_going_well_has_no_reasons(under_way: Any, booked: Any) -> None:
    going = under_way()
    assert _reasons(going) == {}
    assert course_progress(going)["risk"]["level"] == "ok"
    assert _stored(going) == "ok"
    planned = booked()
    assert _reasons(planned) == {}
    assert _stored(planned) == "ok"


# --- missed_consecutive ----------------------------------------------------------------


def test_missed_consecutive_appears_at_two_in_a_row_and_clears_on_attendance(
    under_way: Any, attend: Any, frozen_now: Any
) -> None:
    course = under_way()
    _set_status([_on(course, TODAY)], SessionStatus.MISSED)
    assert "missed_consecutive" not in _reasons(course)  # one miss is not a streak

    _set_status([_on(course, dt.date(2026, 11, 24))], SessionStatus.MISSED)
    assert _reasons(course)["missed_consecutive"] == "at_risk"
    assert _refresh(course) == "at_risk"

    frozen_now.move_to(NOW + dt.timedelta(days=1))  # Thursday, the patient comes back
    attend(_on(course, dt.date(2026, 11, 26)))
    assert "missed_consecutive" not in _reasons(course)
    assert _stored(course) == course_progress(course)["risk"]["level"] != "at_risk"
    # The alert the streak raised settles itself with the risk, and says why.
    alert = StaffAlert.objects.get(course=course, kind="at_risk")
    assert alert.acknowledged_at is not None
    assert alert.settled_reason.startswith("Settled: the course is")


def test_cancelled_sessions_do_not_break_or_make_a_missed_streak(under_way: Any) -> None:
    course = under_way()
    _set_status([_on(course, dt.date(2026, 11, 23))], SessionStatus.MISSED)
    _set_status([_on(course, dt.date(2026, 11, 24))], SessionStatus.CANCELLED)
    _set_status([_on(course, TODAY)], SessionStatus.MISSED)
    assert _reasons(course)["missed_consecutive"] == "at_risk"


# --- missed_share ----------------------------------------------------------------------


def test_missed_share_thresholds_on_ten_planned_sessions(under_way: Any, clinic: Any) -> None:
    ten = ProtocolFactory(clinic=clinic)  # 10 sessions at 5 a week
    course = under_way(start=dt.date(2026, 11, 9), protocol=ten)
    sessions = _sessions(course)
    assert len(sessions) == 10 and all(s.starts_at < NOW for s in sessions)
    # Misses spread out, so no streak muddles the picture.
    _set_status([sessions[1], sessions[4], sessions[7]], SessionStatus.MISSED)
    assert _reasons(course)["missed_share"] == "at_risk"  # 30%
    assert _refresh(course) == "at_risk"

    _set_status([sessions[7]], SessionStatus.COMPLETED)  # a miss recorded in error
    assert _reasons(course)["missed_share"] == "watch"  # 20% is not above 20%
    assert _refresh(course) == "watch"

    _set_status([sessions[4]], SessionStatus.COMPLETED)
    assert "missed_share" not in _reasons(course)  # 10% is not above 10%


@pytest.mark.parametrize(
    ("missed", "level"), [(3, None), (4, "watch"), (7, "watch"), (8, "at_risk")]
)
def test_missed_share_of_the_36_planned(under_way: Any, missed: int, level: str | None) -> None:
    course = under_way()
    past = [s for s in _sessions(course) if s.starts_at < NOW]
    _set_status(past[1 : 2 * missed : 2], SessionStatus.MISSED)  # every other one
    assert course_progress(course)["missed"] == missed
    assert _reasons(course).get("missed_share") == level


# --- treatment_gap ---------------------------------------------------------------------


def test_treatment_gap_counts_open_clinic_days_only(
    under_way: Any, attend: Any, clinic: Any, frozen_now: Any
) -> None:
    course = under_way()
    # Last completed: Thursday 19 November; the patient cancelled everything since.
    since = [s for s in _sessions(course) if _local(dt.date(2026, 11, 20), 0) <= s.starts_at < NOW]
    _set_status(since, SessionStatus.CANCELLED)
    # Fri 20, Mon 23, Tue 24: three clinic days (the weekend does not count).
    assert _reasons(course)["treatment_gap"] == "watch"
    assert _refresh(course) == "watch"

    closure = Closure.objects.create(clinic=clinic, date=dt.date(2026, 11, 23), reason="Storm")
    assert "treatment_gap" not in _reasons(course)  # a closed day is no missed day
    closure.delete()

    frozen_now.move_to(NOW + dt.timedelta(days=2))  # Friday 27: 20, 23, 24, 25, 26
    assert _reasons(course)["treatment_gap"] == "at_risk"
    assert _refresh(course) == "at_risk"

    attend(_on(course, dt.date(2026, 11, 27)))
    assert "treatment_gap" not in _reasons(course)
    assert _stored(course) == course_progress(course)["risk"]["level"]


def test_treatment_gap_only_while_the_acute_phase_is_unfinished(
    under_way: Any, clinic: Any
) -> None:
    # 5 acute sessions (2-6 Nov), then one taper session a week (Mondays 9 and 16 Nov).
    short = ProtocolFactory(clinic=clinic, phases=[(5, 5), (2, 1)])
    done = under_way(protocol=short)
    assert len(_sessions(done)) == 7
    assert "treatment_gap" not in _reasons(done)  # six clinic days since, but in the taper

    unfinished = under_way(protocol=short)
    _set_status([_sessions(unfinished)[2]], SessionStatus.CANCELLED)  # acute is 4 of 5
    assert _reasons(unfinished)["treatment_gap"] == "at_risk"


@pytest.mark.parametrize("status", [CourseStatus.PLANNED, CourseStatus.ACTIVE])
def test_treatment_gap_when_nothing_was_ever_completed(
    make_course: Any, chairs: list[Any], psychiatrist: Any, status: str
) -> None:
    course = make_course(start=STARTED)
    course_schedule(course, allow_past=True)
    if status == CourseStatus.ACTIVE:  # started by hand; else still planned: no check-in
        course_transition(course, CourseStatus.ACTIVE, by=psychiatrist)
    AssessmentFactory(course=course, administered_on=STARTED)
    # The patient cancelled every session of the first three and a half weeks.
    _set_status([s for s in _sessions(course) if s.starts_at < NOW], SessionStatus.CANCELLED)
    assert _reasons(course).get("treatment_gap") == "at_risk"


def test_no_treatment_gap_before_a_planned_course_begins(booked: Any) -> None:
    course = booked()  # its first session is next Monday
    assert "treatment_gap" not in _reasons(course)


# --- window_overrun --------------------------------------------------------------------


def test_window_overrun_when_the_last_session_moves_past_the_window(booked: Any) -> None:
    course = booked()
    window_end = dt.date.fromisoformat(str(course_progress(course)["window_end_date"]))
    assert window_end == dt.date(2027, 2, 15)  # 9 planned weeks + 2 weeks grace
    last = _sessions(course)[-1]
    assert last.starts_at.astimezone(NEW_YORK).date() == dt.date(2027, 1, 25)

    session_move(last, starts_at=_local(dt.date(2027, 2, 16), 9, 30))
    assert _reasons(course) == {"window_overrun": "at_risk"}
    assert _stored(course) == "at_risk"  # moving a session recomputes

    session_move(last, starts_at=_local(dt.date(2027, 1, 25), 9, 30))
    assert _reasons(course) == {}
    assert _stored(course) == "ok"


# --- unscheduled_remaining -------------------------------------------------------------


def test_unscheduled_remaining_until_a_makeup_is_booked(
    make_course: Any, booked: Any, clinic: Any
) -> None:
    not_yet = make_course()
    AssessmentFactory(course=not_yet, administered_on=TODAY)
    assert course_progress(not_yet)["unscheduled"] == 36
    assert "unscheduled_remaining" not in _reasons(not_yet)  # planned, nothing booked yet

    clinic.auto_makeup = False
    clinic.save()
    course = booked()
    session_cancel(_on(course, dt.date(2026, 12, 2)), reason="car trouble")
    assert _reasons(course) == {"unscheduled_remaining": "watch"}
    assert _stored(course) == "watch"

    clinic.auto_makeup = True
    clinic.save()
    assert arrange_makeups_and_refresh([course.pk]) == 1
    assert _reasons(course) == {}
    assert _stored(course) == "ok"


# --- authorizations --------------------------------------------------------------------


def test_authorization_short_until_an_extension(booked: Any) -> None:
    course = booked()
    _authorize(course, 30)
    assert _reasons(course) == {"authorization_short": "watch"}
    assert _refresh(course) == "watch"
    _authorize(course, 6)  # the payer extends the authorization
    assert _reasons(course) == {}
    assert _refresh(course) == "ok"


def test_authorization_expiring_when_sessions_are_booked_after_it_ends(booked: Any) -> None:
    course = booked()  # last session Monday 25 January
    _authorize(course, 36, until=dt.date(2027, 1, 22))
    assert _reasons(course) == {"authorization_expiring": "watch"}
    assert _refresh(course) == "watch"
    _authorize(course, 1, until=dt.date(2027, 3, 31))
    assert _reasons(course) == {}
    assert _refresh(course) == "ok"


@pytest.mark.parametrize(
    ("until", "expiring"), [(dt.date(2026, 12, 2), True), (dt.date(2026, 12, 3), False)]
)
def test_authorization_expiring_within_seven_days(
    make_course: Any, until: dt.date, expiring: bool
) -> None:
    course = make_course()  # nothing booked yet: only the date can trigger it
    AssessmentFactory(course=course, administered_on=TODAY)
    _authorize(course, 36, until=until)
    assert ("authorization_expiring" in _reasons(course)) is expiring
    _authorize(course, 1, until=dt.date(2027, 3, 31))
    assert "authorization_expiring" not in _reasons(course)


def test_authorization_low_at_three_left(under_way: Any) -> None:
    course = under_way()  # 18 sessions completed
    _authorize(course, 21)
    progress = course_progress(course)
    assert progress["authorization_remaining"] == 3
    assert _reasons(course)["authorization_low"] == "watch"
    assert _refresh(course) == "watch"
    _authorize(course, 1)  # four left: no longer low
    assert course_progress(course)["authorization_remaining"] == 4
    assert "authorization_low" not in _reasons(course)
    _authorize(course, 14)
    assert _reasons(course) == {}
    assert _refresh(course) == "ok"


# --- assessments -----------------------------------------------------------------------


def test_no_baseline_until_a_score_in_the_week_before_session_one(
    make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    later = make_course(start=dt.date(2026, 12, 7))
    assert "no_baseline" not in _reasons(later)  # its baseline window opens 30 November

    course = make_course()  # session 1 on Monday 30 November
    course_schedule(course)
    AssessmentFactory(course=course, instrument="phq9", administered_on=dt.date(2026, 11, 22))
    AssessmentFactory(course=course, instrument="gad7", score=12, administered_on=TODAY)
    assert _reasons(course) == {"no_baseline": "watch"}  # too early, and the wrong scale
    assert _refresh(course) == "watch"

    assessment_record(
        course, instrument="phq9", score=19, suicide_item=0, administered_on=TODAY, by=psychiatrist
    )
    assert _reasons(course) == {}
    assert course_progress(course)["baseline"] == {"score": 19, "administered_on": TODAY}
    assert _refresh(course) == "ok"


def test_assessment_overdue_after_a_week_without_a_primary_score(
    under_way: Any, psychiatrist: Any
) -> None:
    course = under_way()
    Assessment.objects.filter(course=course, administered_on__gt=STARTED).update(
        administered_on=TODAY - dt.timedelta(days=6)
    )
    assert "assessment_overdue" not in _reasons(course)
    Assessment.objects.filter(course=course, administered_on__gt=STARTED).update(
        administered_on=TODAY - dt.timedelta(days=8)
    )
    assert _reasons(course) == {"assessment_overdue": "watch"}
    assert _refresh(course) == "watch"

    assessment_record(course, instrument="gad7", score=8, administered_on=TODAY, by=psychiatrist)
    assert "assessment_overdue" in _reasons(course)  # not the course's primary scale
    assessment_record(
        course, instrument="phq9", score=11, suicide_item=0, administered_on=TODAY, by=psychiatrist
    )
    assert _reasons(course) == {}
    assert _refresh(course) == "ok"


def test_safety_flag_until_a_psychiatrist_acknowledges_it(
    under_way: Any, psychiatrist: Any
) -> None:
    course = under_way()
    assessment_record(
        course, instrument="phq9", items=[1] * 8 + [0], administered_on=TODAY, by=psychiatrist
    )
    assert _reasons(course) == {}  # item 9 at 0 raises nothing

    assessment_record(
        course, instrument="phq9", items=PHQ9_SELF_HARM, administered_on=TODAY, by=psychiatrist
    )
    flag = SafetyFlag.objects.get(course=course)
    assert _reasons(course) == {"safety_flag": "at_risk"}
    assert _refresh(course) == "at_risk"

    safety_flag_acknowledge(flag, by=psychiatrist)
    assert _reasons(course) == {}
    assert _refresh(course) == "ok"


def test_a_safety_flag_marks_the_course_at_risk_at_once(under_way: Any, psychiatrist: Any) -> None:
    course = under_way()
    assessment_record(
        course, instrument="phq9", items=PHQ9_SELF_HARM, administered_on=TODAY, by=psychiatrist
    )
    assert _stored(course) == "at_risk"


# --- levels and the stored level -------------------------------------------------------


def test_level_is_the_most_serious_reason(under_way: Any, psychiatrist: Any) -> None:
    course = under_way()

    def check(expected: str) -> None:
        risk = course_progress(course)["risk"]
        levels = [detail["level"] for detail in risk["details"]]
        assert risk["level"] == max(levels, key=LEVEL_ORDER.__getitem__, default="ok")
        assert risk["level"] == expected
        assert risk["reasons"] == [detail["code"] for detail in risk["details"]]

    check("ok")
    _authorize(course, 20)  # short (watch) and low (watch)
    assert set(_reasons(course)) == {"authorization_short", "authorization_low"}
    check("watch")
    assessment_record(
        course, instrument="phq9", items=PHQ9_SELF_HARM, administered_on=TODAY, by=psychiatrist
    )
    check("at_risk")
    safety_flag_acknowledge(SafetyFlag.objects.get(course=course), by=psychiatrist)
    check("watch")


def test_recompute_stores_the_level_and_reports_only_changes(
    under_way: Any, psychiatrist: Any
) -> None:
    fine, flagged = under_way(), under_way()
    assessment_record(
        flagged, instrument="phq9", items=PHQ9_SELF_HARM, administered_on=TODAY, by=psychiatrist
    )
    TreatmentCourse.objects.filter(pk=fine.pk).update(risk_level="watch")  # stale
    # The flagged course was stored at_risk when the flag was raised; only fine changes.
    assert recompute_risk([fine.pk, flagged.pk]) == 1
    assert (_stored(fine), _stored(flagged)) == ("ok", "at_risk")
    assert recompute_risk([fine.pk, flagged.pk]) == 0

    TreatmentCourse.objects.filter(pk=fine.pk).update(risk_level="at_risk")
    assert recompute_open_courses() == 1
    assert _stored(fine) == "ok"


@pytest.mark.parametrize("target", [CourseStatus.COMPLETED, CourseStatus.DISCONTINUED])
def test_closed_courses_carry_no_reasons(under_way: Any, psychiatrist: Any, target: str) -> None:
    course = under_way()
    _set_status([_on(course, dt.date(2026, 11, 24)), _on(course, TODAY)], SessionStatus.MISSED)
    _authorize(course, 20)
    assessment_record(
        course, instrument="phq9", items=PHQ9_SELF_HARM, administered_on=TODAY, by=psychiatrist
    )
    assert _refresh(course) == "at_risk"
    course_transition(course, target, by=psychiatrist, reason="")
    risk = course_progress(course)["risk"]
    assert risk == {"level": "ok", "reasons": [], "details": []}
    assert _refresh(course) == "ok"


def test_closing_a_course_clears_its_stored_risk(under_way: Any, psychiatrist: Any) -> None:
    course = under_way()
    assessment_record(
        course, instrument="phq9", items=PHQ9_SELF_HARM, administered_on=TODAY, by=psychiatrist
    )
    assert _refresh(course) == "at_risk"
    course_transition(course, CourseStatus.DISCONTINUED, by=psychiatrist, reason="moved away")
    recompute_open_courses()  # the nightly pass
    assert _stored(course) == "ok"


# --- the API ---------------------------------------------------------------------------

PROGRESS_KEYS = {
    "sessions_total",
    "completed",
    "missed",
    "cancelled",
    "scheduled",
    "remaining",
    "next_session_at",
    "projected_end_date",
    "window_end_date",
    "authorization_remaining",
    "baseline",
    "latest",
    "response",
    "remission",
    "risk",
}


def test_progress_endpoint_numbers(under_way: Any, staff: Any, api: Any) -> None:
    course = under_way()  # baseline PHQ-9 20 on 30 Oct, 14 on 23 Nov
    Assessment.objects.filter(course=course, score=14).update(score=9)  # a response
    past = [s for s in _sessions(course) if s.starts_at < NOW]
    _set_status([past[4], past[9]], SessionStatus.MISSED)
    _set_status([past[12]], SessionStatus.CANCELLED)
    _authorize(course, 40)

    response = api(staff(Role.FRONT_DESK)).get(f"/api/v1/courses/{course.pk}/progress/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= PROGRESS_KEYS
    assert {"level", "reasons"} <= set(body["risk"])
    assert dt.datetime.fromisoformat(body["next_session_at"]) == _local(
        dt.date(2026, 11, 26), 9, 30
    )
    numbers = {key: body[key] for key in PROGRESS_KEYS - {"next_session_at"}}
    assert numbers == {
        "sessions_total": 36,
        "completed": 15,
        "missed": 2,
        "cancelled": 1,
        "scheduled": 18,
        "remaining": 21,
        # last booked Monday 28 December, plus 3 unbooked at one a clinic day
        "projected_end_date": "2026-12-31",
        "window_end_date": "2027-01-18",
        "authorization_remaining": 25,
        "baseline": {"score": 20, "administered_on": "2026-10-30"},
        "latest": {"score": 9, "administered_on": "2026-11-23"},
        "response": True,
        "remission": False,
        "risk": {
            "level": "watch",
            "reasons": ["unscheduled_remaining"],
            "details": [
                {
                    "code": "unscheduled_remaining",
                    "level": "watch",
                    "detail": body["risk"]["details"][0]["detail"],
                }
            ],
        },
    }


def test_course_list_filters_on_stored_risk(
    under_way: Any, staff: Any, api: Any, psychiatrist: Any
) -> None:
    fine, watched, flagged = under_way(), under_way(), under_way()
    _authorize(watched, 30)
    assessment_record(
        flagged, instrument="phq9", items=PHQ9_SELF_HARM, administered_on=TODAY, by=psychiatrist
    )
    recompute_risk([fine.pk, watched.pk, flagged.pk])
    client = api(staff(Role.FRONT_DESK))

    def listed(query: str) -> list[int]:
        response = client.get(f"/api/v1/courses/?{query}")
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert listed("risk=at_risk") == [flagged.pk]
    assert listed("risk=watch") == [watched.pk]
    assert sorted(listed("risk=watch&risk=at_risk")) == sorted([watched.pk, flagged.pk])
    assert sorted(listed("")) == sorted([fine.pk, watched.pk, flagged.pk])
