from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import phonenumbers
from django.contrib.auth import get_user_model
from django.core.management import call_command

from clinic.models import Chair, Clinic, Patient, Role, StaffMembership
from scheduling.models import Session


def test_seed_demo_is_idempotent_and_complete(db: None, settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open(tmp_path / "out1", "w"))  # noqa: SIM115
    call_command("seed_demo", stdout=open(tmp_path / "out2", "w"))  # noqa: SIM115

    clinic = Clinic.objects.get()
    assert clinic.timezone == "America/New_York"
    hours = list(clinic.opening_hours.values_list("weekday", "opens", "closes"))
    assert [day for day, *_ in hours] == [0, 1, 2, 3, 4]
    assert all(f"{opens:%H:%M}-{closes:%H:%M}" == "07:30-19:00" for _, opens, closes in hours)
    chairs = dict(Chair.objects.filter(clinic=clinic).values_list("name", "coils"))
    assert len(chairs) == 5
    assert chairs["Chair 5"] == ["H1", "H7"]  # the deep TMS courses need an H-coil chair
    assert all(coils == ["figure-8"] for name, coils in chairs.items() if name != "Chair 5")
    deep = Session.objects.filter(course__protocol__code="deep-tms-h1")
    assert deep.exists() and set(deep.values_list("chair__name", flat=True)) == {"Chair 5"}
    patients = Patient.objects.filter(clinic=clinic)
    assert patients.count() == 25
    for patient in patients:
        assert phonenumbers.is_valid_number(phonenumbers.parse(patient.phone))
    roles = set(StaffMembership.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    assert get_user_model().objects.filter(is_superuser=True).count() == 1

    # Both runs printed the same generated passwords, and they work.
    first, second = (tmp_path / "out1").read_text(), (tmp_path / "out2").read_text()
    assert first == second
    admin_password = next(
        line.split()[-1] for line in first.splitlines() if line.split()[1:2] == ["admin"]
    )
    assert len(admin_password) >= 12
    assert get_user_model().objects.get(username="admin").check_password(admin_password)


def test_demo_password_from_environment(
    db: None, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("CADENCE_DEMO_PASSWORD", "a chosen demo passphrase")
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    user = get_user_model().objects.get(username="frontdesk")
    assert user.check_password("a chosen demo passphrase")


def test_front_desk_sees_demo_patients(db: None, settings: Any, tmp_path: Path) -> None:
    from tests.conftest import bearer_client

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    client = bearer_client(get_user_model().objects.get(username="frontdesk"))
    assert client.get("/api/v1/patients/").json()["count"] == 25


def test_demo_courses_cover_every_status_and_outcome(
    db: None, settings: Any, tmp_path: Path
) -> None:
    from courses.models import CourseStatus, SafetyFlag, TreatmentCourse
    from courses.selectors import course_outcomes

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    courses = TreatmentCourse.objects.all()
    assert {course.status for course in courses} == set(CourseStatus.values)
    outcomes = [course_outcomes(course)[0] for course in courses]
    assert any(o.response for o in outcomes)
    assert any(o.remission for o in outcomes)
    assert any(o.response is False for o in outcomes)
    assert SafetyFlag.objects.count() == 1
    weekly = courses.get(patient__mrn="BK-1004").assessments.filter(instrument="phq9")
    dates = sorted(weekly.values_list("administered_on", flat=True))
    assert len(dates) >= 4
    assert all((later - earlier).days == 7 for earlier, later in itertools.pairwise(dates))
    # A completed acute course's relapse watch counts from the day the course ended.
    completed = courses.filter(status=CourseStatus.COMPLETED, type="acute")
    assert completed.exists()
    for course in completed:
        watch = course.relapse_watch
        first = watch.points.order_by("number").first()
        assert course.completed_on is not None and first is not None
        assert watch.started_on == course.completed_on
        assert (first.due_on - course.completed_on).days == 14


def test_demo_month_has_sessions_attendance_and_risk(
    db: None, settings: Any, tmp_path: Path
) -> None:
    from clinic.models import Closure
    from courses.models import TreatmentCourse
    from scheduling.models import Session

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    sessions_before = Session.objects.count()
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    assert Session.objects.count() == sessions_before  # idempotent

    active = TreatmentCourse.objects.filter(status="active")
    assert active.count() >= 10
    assert len({course.protocol.code for course in active}) >= 4
    statuses = set(Session.objects.values_list("status", flat=True))
    assert {"completed", "missed", "scheduled", "cancelled"} <= statuses
    assert Session.objects.filter(kind="makeup").exists()
    at_risk = TreatmentCourse.objects.filter(risk_level="at_risk")
    assert at_risk.count() >= 2
    assert Closure.objects.exists()
    closed_days = set(Closure.objects.values_list("date", flat=True))
    booked_days = {
        session.starts_at.astimezone(session.chair.clinic.tz).date()
        for session in Session.objects.select_related("chair__clinic")
    }
    assert not closed_days & booked_days


def test_demo_courses_change_status_through_the_public_transition(
    db: None, settings: Any, tmp_path: Path
) -> None:
    """A paused course keeps its bookings (docs/scheduling.md); an ended one gave them up."""
    from courses.models import CourseStatus, TreatmentCourse
    from scheduling.models import SessionStatus

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    paused = TreatmentCourse.objects.get(status=CourseStatus.PAUSED)
    assert paused.sessions.filter(status=SessionStatus.SCHEDULED).exists()
    assert not paused.sessions.filter(cancel_reason__startswith="Course").exists()
    for ended in TreatmentCourse.objects.filter(
        status__in=[CourseStatus.COMPLETED, CourseStatus.DISCONTINUED]
    ):
        assert not ended.sessions.filter(status=SessionStatus.SCHEDULED).exists()
