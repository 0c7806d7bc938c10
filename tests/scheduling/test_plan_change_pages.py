"""The course page's plan changes and types: lengthen and switch protocol (previewed,
then confirmed; a conflict shown and nothing changed), the prescribe form's type and
course followed, and the course page's words for its type. Who may use the pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client

from clinic.models import Role
from courses.models import CourseChange, CourseStatus, CourseType, TreatmentCourse
from scheduling.models import Session
from scheduling.services import course_schedule
from tests.factories import ChairBlockFactory, ClinicFactory, catalog_protocol

pytestmark = pytest.mark.usefixtures("frozen_now")


def _text(response: Any) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def booked(make_course: Callable[..., Any], chairs: list[Any]) -> Any:
    course = make_course(status=CourseStatus.ACTIVE)
    course_schedule(course)
    return course


def _state(course: Any) -> list[tuple[int, str]]:
    return list(Session.objects.filter(course=course).order_by("id").values_list("id", "status"))


def test_lengthen_is_previewed_then_confirmed(
    client: Client, booked: Any, psychiatrist: Any
) -> None:
    client.force_login(psychiatrist)
    course_page = _text(client.get(f"/courses/{booked.pk}/"))
    assert f"/courses/{booked.pk}/lengthen/" in course_page
    assert f"/courses/{booked.pk}/switch-protocol/" in course_page
    form = {"sessions": "4", "from_date": "2026-12-14", "reason": "Late response"}
    page = client.get(f"/courses/{booked.pk}/lengthen/")
    assert page.status_code == 200
    before = _state(booked)
    preview = client.post(f"/courses/{booked.pk}/lengthen/", {**form, "preview": "1"})
    assert preview.status_code == 200
    text = _text(preview)
    assert "Preview: 30 sessions re-planned, 26 bookings replaced" in text
    assert "Confirm: lengthen the course" in text
    assert _state(booked) == before
    done = client.post(f"/courses/{booked.pk}/lengthen/", {**form, "confirm": "1"})
    assert done.status_code == 302
    assert Session.objects.filter(course=booked, status="scheduled").count() == 40
    course_page = _text(client.get(f"/courses/{booked.pk}/"))
    assert "Changes to the plan" in course_page
    assert "4 sessions added; 30 remaining re-planned from Mon 14 Dec 2026" in course_page
    assert "“Late response”" in course_page
    assert "34 treatment sessions, 5 a week" in course_page  # the plan, with the sessions added


def test_a_conflict_is_shown_and_nothing_changes(
    client: Client, booked: Any, psychiatrist: Any, clinic: Any
) -> None:
    for chair in clinic.chairs.all():
        ChairBlockFactory(
            chair=chair,
            starts_at=dt.datetime(2026, 12, 15, 7, tzinfo=clinic.tz),
            ends_at=dt.datetime(2026, 12, 15, 19, tzinfo=clinic.tz),
        )
    client.force_login(psychiatrist)
    before = _state(booked)
    response = client.post(
        f"/courses/{booked.pk}/switch-protocol/",
        {
            "protocol": catalog_protocol("itbs").pk,
            "from_date": "2026-12-14",
            "reason": "Shorter visits",
            "confirm": "1",
        },
    )
    assert response.status_code == 409
    assert "Tue 15 Dec 2026: no chair is free at that time" in _text(response)
    assert _state(booked) == before
    assert not CourseChange.objects.exists()
    assert TreatmentCourse.objects.get(pk=booked.pk).protocol.code == "10hz-standard"


def test_switch_protocol_page_lists_the_other_protocols(
    client: Client, booked: Any, psychiatrist: Any
) -> None:
    client.force_login(psychiatrist)
    text = _text(client.get(f"/courses/{booked.pk}/switch-protocol/"))
    assert "Intermittent theta burst (iTBS)" in text
    assert "3 continuation sessions, 1 every 4 weeks" in text  # the maintenance protocol
    assert f'<option value="{booked.protocol_id}"' not in text
    assert f'<option value="{catalog_protocol("itbs").pk}"' in text


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("anonymous", 302),
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.CLINIC_ADMIN, 403),
        (Role.PSYCHIATRIST, 200),
        ("superuser", 200),
        ("outsider", 404),
    ],
)
@pytest.mark.parametrize("page", ["lengthen", "switch-protocol"])
def test_who_may_change_the_plan(
    page: str,
    actor: str,
    expected: int,
    client: Client,
    booked: Any,
    staff: Any,
    superuser: Any,
) -> None:
    if actor == "superuser":
        client.force_login(superuser)
    elif actor == "outsider":
        client.force_login(staff(Role.PSYCHIATRIST, in_clinic=ClinicFactory(slug="elsewhere")))
    elif actor != "anonymous":
        client.force_login(staff(actor))
    assert client.get(f"/courses/{booked.pk}/{page}/").status_code == expected


def test_a_paused_course_cannot_change_its_plan(
    client: Client, booked: Any, psychiatrist: Any
) -> None:
    TreatmentCourse.objects.filter(pk=booked.pk).update(status=CourseStatus.PAUSED)
    client.force_login(psychiatrist)
    text = _text(client.get(f"/courses/{booked.pk}/lengthen/"))
    assert "its plan cannot change until it resumes" in text
    assert f"/courses/{booked.pk}/lengthen/" not in _text(client.get(f"/courses/{booked.pk}/"))


def test_prescribe_a_maintenance_course_after_the_acute_one(
    client: Client, make_course: Any, psychiatrist: Any
) -> None:
    acute = make_course(status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))
    client.force_login(psychiatrist)
    page = _text(client.get(f"/courses/prescribe/?patient={acute.patient_id}"))
    assert "Course type" in page and "Acute course, 10 Hz left DLPFC (standard)" in page
    response = client.post(
        f"/courses/prescribe/?patient={acute.patient_id}",
        {
            "protocol": catalog_protocol("maintenance-10hz").pk,
            "type": CourseType.MAINTENANCE,
            "follows": acute.pk,
            "indication": "mdd",
            "start_date": "2026-12-07",
            "preferred_time": "09:30",
            "time_flex_minutes": "0",
            "action": "prescribe",
        },
    )
    assert response.status_code == 302, _text(response)
    course = TreatmentCourse.objects.get(patient=acute.patient, type=CourseType.MAINTENANCE)
    assert course.follows == acute
    text = _text(client.get(f"/courses/{course.pk}/"))
    assert "Maintenance course</strong>, following the" in text
    assert "acute course (10 Hz left DLPFC (standard)) from 30 Nov 2026" in text
    assert "How a maintenance course is judged" in text
    assert "a session 7 days later than due is worth watching" in text
    assert "maps the motor threshold unless one from the last 90 days" in text
    acute_page = _text(client.get(f"/courses/{acute.pk}/"))
    assert "Followed by the" in acute_page
    assert "maintenance course from 7 Dec 2026</a>" in acute_page


def test_prescribing_maintenance_without_the_course_it_follows_is_refused(
    client: Client, make_course: Any, psychiatrist: Any
) -> None:
    acute = make_course(status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))
    client.force_login(psychiatrist)
    response = client.post(
        f"/courses/prescribe/?patient={acute.patient_id}",
        {
            "protocol": catalog_protocol("maintenance-10hz").pk,
            "type": CourseType.MAINTENANCE,
            "indication": "mdd",
            "start_date": "2026-12-07",
            "preferred_time": "09:30",
            "time_flex_minutes": "0",
            "action": "prescribe",
        },
    )
    assert response.status_code == 400
    assert "follows another course; choose the course it follows" in _text(response)
