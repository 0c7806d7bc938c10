"""Escalation (issue "Clinical safety and patient messaging", item 3): a safety flag or
an adverse event whose alert nobody acknowledged within the clinic's escalation time
(default two hours, counted in opening hours only) alerts the clinic's other
psychiatrists and its clinic admins, in the app and by email, once."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from clinic.models import Role
from clinic.opening_time import opening_time_ends
from courses import alerts, services
from courses.escalation import escalate_overdue_alerts
from courses.models import StaffAlert
from tests.factories import ClosureFactory, CourseFactory, MembershipFactory, PatientFactory

NY = ZoneInfo("America/New_York")
SELF_HARM = [2, 2, 2, 2, 2, 2, 2, 2, 1]
WEEKDAYS_8_TO_6 = {day: (dt.time(8), dt.time(18)) for day in range(5)}


def ny(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


# --- opening time --------------------------------------------------------------------------

MONDAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    ("start", "closures", "ends"),
    [
        # 30 minutes before closing: the other 90 after the next opening.
        (ny(MONDAY, 17, 30), set(), ny(MONDAY + dt.timedelta(days=1), 9, 30)),
        # Inside the day: the wall clock.
        (ny(MONDAY, 10), set(), ny(MONDAY, 12)),
        # Before opening: from the opening.
        (ny(MONDAY, 6), set(), ny(MONDAY, 10)),
        # Friday evening: the weekend is closed.
        (
            ny(MONDAY + dt.timedelta(days=4), 17, 30),
            set(),
            ny(MONDAY + dt.timedelta(days=7), 9, 30),
        ),
        # A closure counts as closed.
        (
            ny(MONDAY, 17, 30),
            {MONDAY + dt.timedelta(days=1)},
            ny(MONDAY + dt.timedelta(days=2), 9, 30),
        ),
        # After closing: nothing of that evening counts.
        (ny(MONDAY, 19), set(), ny(MONDAY + dt.timedelta(days=1), 10)),
    ],
)
def test_two_hours_of_opening_time(start: Any, closures: set[dt.date], ends: Any) -> None:
    found = opening_time_ends(start, 120, hours=WEEKDAYS_8_TO_6, closures=closures, tz=NY)
    assert found == ends


def test_a_weekend_across_the_spring_change_keeps_the_local_opening() -> None:
    """Friday 12 March 2027, 17:30 EST; clocks go forward on Sunday: Monday 09:30 EDT."""
    found = opening_time_ends(
        ny(dt.date(2027, 3, 12), 17, 30), 120, hours=WEEKDAYS_8_TO_6, closures=set(), tz=NY
    )
    assert found == ny(dt.date(2027, 3, 15), 9, 30)
    assert found is not None and found.astimezone(dt.UTC).hour == 13  # EDT: UTC-4


def test_opening_hours_over_a_dst_change_count_the_minutes_that_pass() -> None:
    """A clinic open on Sundays 01:00-04:00: the spring-forward Sunday is open two real
    hours, the fall-back Sunday four."""
    sundays = {6: (dt.time(1), dt.time(4))}
    spring = dt.date(2026, 3, 8)
    found = opening_time_ends(ny(spring, 0, 30), 150, hours=sundays, closures=set(), tz=NY)
    assert found == ny(spring + dt.timedelta(days=7), 1, 30)  # 120 that day, 30 the next
    autumn = dt.date(2026, 11, 1)
    found = opening_time_ends(ny(autumn, 0, 30), 210, hours=sundays, closures=set(), tz=NY)
    # 01:00 EDT + 3 h 30 of real time = 03:30 EST, still that day.
    assert found == dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)


def test_a_clinic_never_open_has_no_opening_time() -> None:
    assert opening_time_ends(ny(MONDAY, 9), 120, hours={}, closures=set(), tz=NY) is None


# --- escalation ----------------------------------------------------------------------------

WEDNESDAY = dt.date(2026, 11, 25)  # the clinic fixture: weekdays 07:30-19:00, New York
THANKSGIVING = dt.date(2026, 11, 26)
FRIDAY = dt.date(2026, 11, 27)


@pytest.fixture
def team(clinic: Any, other_clinic: Any) -> dict[str, Any]:
    def member(role: str, email: str, in_clinic: Any = None) -> Any:
        user = MembershipFactory(clinic=in_clinic or clinic, role=role).user
        user.email = email
        user.save()
        return user

    return {
        "prescriber": member(Role.PSYCHIATRIST, "dr.a@example.com"),
        "colleague": member(Role.PSYCHIATRIST, "dr.b@example.com"),
        "admin": member(Role.CLINIC_ADMIN, "admin@example.com"),
        "desk": member(Role.FRONT_DESK, "desk@example.com"),
        "tech": member(Role.TECHNICIAN, "tech@example.com"),
        "elsewhere": member(Role.PSYCHIATRIST, "dr.c@example.com", in_clinic=other_clinic),
    }


@pytest.fixture
def course(clinic: Any, team: dict[str, Any]) -> Any:
    return CourseFactory(patient=PatientFactory(clinic=clinic), psychiatrist=team["prescriber"])


def _flag_at(course: Any, moment: dt.datetime) -> StaffAlert:
    with time_machine.travel(moment, tick=False):
        services.assessment_record(
            course, instrument="phq9", items=SELF_HARM, administered_on=WEDNESDAY, by=None
        )
    return StaffAlert.objects.get(kind="safety_flag", course=course)


def _escalate_at(moment: dt.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return escalate_overdue_alerts()


def _escalations() -> list[StaffAlert]:
    return list(StaffAlert.objects.filter(kind="escalation").select_related("recipient"))


def test_an_unacknowledged_flag_escalates_after_two_hours_of_opening_time(
    clinic: Any,
    course: Any,
    team: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
    mailoutbox: Any,
) -> None:
    """Raised at 17:30 on Wednesday, 90 minutes before closing; Thursday is a closure
    (Thanksgiving): the last 30 minutes run from Friday's 07:30 opening."""
    from courses import tasks

    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.email_staff_alerts, "delay", queued.append)
    ClosureFactory(clinic=clinic, date=THANKSGIVING)
    original = _flag_at(course, ny(WEDNESDAY, 17, 30))
    assert _escalate_at(ny(WEDNESDAY, 19, 30)) == 0
    assert _escalate_at(ny(THANKSGIVING, 12)) == 0
    assert _escalate_at(ny(FRIDAY, 7, 59)) == 0
    assert _escalations() == []
    with django_capture_on_commit_callbacks(execute=True):
        assert _escalate_at(ny(FRIDAY, 8)) == 1
    escalations = _escalations()
    assert {alert.recipient.email for alert in escalations} == {
        "dr.b@example.com",
        "admin@example.com",
    }
    assert all(alert.escalates_id == original.pk for alert in escalations)
    assert all(alert.course_id == course.pk for alert in escalations)
    assert "Not acknowledged by the course's psychiatrist within 2 h 00 min" in (
        escalations[0].detail
    )
    # In the app: on each recipient's alert list.
    # By email: queued after the commit, each sent once.
    assert sorted(queued[-1]) == sorted(alert.pk for alert in escalations)
    assert alerts.email_alerts(queued[-1]) == 2
    sent = {message.to[0]: message for message in mailoutbox}
    assert set(sent) == {"dr.b@example.com", "admin@example.com"}
    subject = f"Cadence: Unacknowledged alert (course {course.pk})"
    assert sent["admin@example.com"].subject == subject
    assert course.patient.last_name not in sent["admin@example.com"].body
    # Once per cause.
    assert _escalate_at(ny(FRIDAY, 12)) == 0
    assert len(_escalations()) == 2


def test_the_escalation_shows_in_the_recipients_alert_list(
    course: Any, team: dict[str, Any], api: Any
) -> None:
    _flag_at(course, ny(WEDNESDAY, 9))
    assert _escalate_at(ny(WEDNESDAY, 11, 5)) == 1
    listed = api(team["admin"]).get("/api/v1/alerts/", {"kind": "escalation"}).json()
    assert listed["count"] == 1
    assert api(team["desk"]).get("/api/v1/alerts/", {"kind": "escalation"}).json()["count"] == 0


def test_acknowledged_in_time_it_does_not_escalate(course: Any, team: dict[str, Any]) -> None:
    original = _flag_at(course, ny(WEDNESDAY, 9))
    with time_machine.travel(ny(WEDNESDAY, 10), tick=False):
        alerts.acknowledge(original)
    assert _escalate_at(ny(WEDNESDAY, 15)) == 0
    assert _escalations() == []


def test_a_reviewed_flag_does_not_escalate(course: Any, team: dict[str, Any]) -> None:
    _flag_at(course, ny(WEDNESDAY, 9))
    services.safety_flag_acknowledge(course.safety_flags.get(), by=team["prescriber"])
    assert _escalate_at(ny(WEDNESDAY, 15)) == 0


def test_one_acknowledgement_of_the_escalation_settles_the_others(
    course: Any, team: dict[str, Any]
) -> None:
    original = _flag_at(course, ny(WEDNESDAY, 9))
    _escalate_at(ny(WEDNESDAY, 11, 30))
    mine = StaffAlert.objects.get(kind="escalation", recipient=team["colleague"])
    alerts.acknowledge(mine)
    theirs = StaffAlert.objects.get(kind="escalation", recipient=team["admin"])
    assert theirs.acknowledged_at is not None
    assert theirs.settled_reason == "Settled: someone else acknowledged it."
    original.refresh_from_db()
    assert original.acknowledged_at is None  # still the prescriber's to see
    assert _escalate_at(ny(FRIDAY, 12)) == 0


def test_acknowledging_the_original_late_settles_its_escalations(
    course: Any, team: dict[str, Any]
) -> None:
    original = _flag_at(course, ny(WEDNESDAY, 9))
    _escalate_at(ny(WEDNESDAY, 11, 30))
    assert alerts.acknowledge_many(team["prescriber"], [original.pk]) == 1
    assert all(alert.acknowledged_at is not None for alert in _escalations())


def test_the_clinics_own_escalation_time(clinic: Any, course: Any, team: dict[str, Any]) -> None:
    clinic.escalation_minutes = 30
    clinic.save()
    _flag_at(course, ny(WEDNESDAY, 9))
    assert _escalate_at(ny(WEDNESDAY, 9, 29)) == 0
    assert _escalate_at(ny(WEDNESDAY, 9, 30)) == 1


def test_an_unreviewed_adverse_event_escalates_and_a_decision_stops_it(
    clinic: Any, course: Any, team: dict[str, Any]
) -> None:
    with time_machine.travel(ny(WEDNESDAY, 9), tick=False):
        first = alerts.raise_for_adverse_event(course, 1, "Seizure", WEDNESDAY)
        second = alerts.raise_for_adverse_event(course, 2, "Fainting (syncope)", WEDNESDAY)
    alerts.settle_adverse_event(2)  # decided: no escalation
    assert _escalate_at(ny(WEDNESDAY, 11)) == 1
    assert {alert.escalates_id for alert in _escalations()} == {first.pk}
    assert second.pk not in {alert.escalates_id for alert in _escalations()}


def test_an_escalation_and_an_at_risk_alert_never_escalate(
    course: Any, team: dict[str, Any]
) -> None:
    _flag_at(course, ny(WEDNESDAY, 9))  # also turns the course at risk: a second alert
    assert StaffAlert.objects.filter(kind="at_risk").exists()
    _escalate_at(ny(WEDNESDAY, 11, 30))
    assert _escalate_at(ny(FRIDAY, 18)) == 0
    assert {alert.escalates.kind for alert in _escalations()} == {"safety_flag"}


def test_the_escalation_time_is_a_clinic_setting(api_as: Any, clinic: Any) -> None:
    admin = api_as(Role.CLINIC_ADMIN)
    url = f"/api/v1/clinics/{clinic.pk}/"
    assert admin.get(url).json()["escalation_minutes"] == 120
    changed = admin.patch(url, {"escalation_minutes": 45}, format="json")
    assert changed.status_code == 200 and changed.json()["escalation_minutes"] == 45
    for wrong in (0, 10081, "soon"):
        refused = admin.patch(url, {"escalation_minutes": wrong}, format="json")
        assert refused.status_code == 400 and "escalation_minutes" in refused.json()["errors"]


def test_the_admins_dashboard_lists_the_escalation(
    client: Any, course: Any, team: dict[str, Any]
) -> None:
    _flag_at(course, ny(WEDNESDAY, 9))
    _escalate_at(ny(WEDNESDAY, 11, 5))
    client.force_login(team["admin"])
    html = client.get("/courses/mine/").content.decode()
    assert "<strong>Unacknowledged alert</strong>" in html
