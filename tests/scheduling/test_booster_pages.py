"""The "Book a booster course" page (``course-booster``): offered on an ended course's
page, its defaults, preview then confirm, a conflict shown with nothing stored, the
courses it refuses, who may use it, and the preview's queries."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clinic.models import Role
from courses.models import CourseStatus, CourseType, TreatmentCourse
from scheduling.models import Session
from tests.factories import (
    ChairBlockFactory,
    ClinicFactory,
    ClosureFactory,
    MotorThresholdFactory,
    catalog_protocol,
)

pytestmark = pytest.mark.usefixtures("frozen_now")  # Wednesday 25 November 2026


def _text(response: Any) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def acute(make_course: Any, chairs: list[Any]) -> Any:
    return make_course(
        status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 20), at=dt.time(8, 30)
    )


@pytest.fixture
def doctor(client: Client, psychiatrist: Any) -> Client:
    client.force_login(psychiatrist)
    return client


def _form(**changes: str) -> dict[str, str]:
    return {
        "protocol": str(catalog_protocol("booster-10hz-week").pk),
        "start_date": "2026-11-30",
        "preferred_time": "08:30",
        "preferred_chair": "",
        "time_flex_minutes": "0",
        **changes,
    }


def _stored() -> tuple[int, int]:
    return TreatmentCourse.objects.count(), Session.objects.count()


def test_the_url_is_the_one_the_relapse_list_links_to(acute: Any) -> None:
    assert reverse("course-booster", args=[acute.pk]) == f"/courses/{acute.pk}/booster/"


def test_an_ended_course_offers_a_booster(doctor: Client, acute: Any, staff: Any) -> None:
    link = f'href="/courses/{acute.pk}/booster/"'
    assert link in _text(doctor.get(f"/courses/{acute.pk}/"))
    desk = Client()
    desk.force_login(staff(Role.FRONT_DESK))
    assert link not in _text(desk.get(f"/courses/{acute.pk}/"))


def test_an_open_course_offers_none_and_its_page_says_why(
    doctor: Client, make_course: Any, chairs: list[Any]
) -> None:
    active = make_course(status=CourseStatus.ACTIVE, start=dt.date(2026, 11, 2))
    assert f"/courses/{active.pk}/booster/" not in _text(doctor.get(f"/courses/{active.pk}/"))
    page = _text(doctor.get(f"/courses/{active.pk}/booster/"))
    assert "a booster follows a completed or discontinued course" in page
    assert 'id="booster-form"' not in page


def test_a_patient_with_another_open_course_is_told(doctor: Client, acute: Any) -> None:
    booked = doctor.post(f"/courses/{acute.pk}/booster/", {**_form(), "action": "confirm"})
    assert booked.status_code == 302
    page = _text(doctor.get(f"/courses/{acute.pk}/booster/"))
    assert "The patient has an open booster course from 30 Nov 2026" in page
    assert 'id="booster-form"' not in page


def test_the_form_defaults(doctor: Client, acute: Any, clinic: Any) -> None:
    # Thursday 26 November is closed: the next open day is Friday 27.
    ClosureFactory(clinic=clinic, date=dt.date(2026, 11, 26))
    page = _text(doctor.get(f"/courses/{acute.pk}/booster/"))
    booster = catalog_protocol("booster-10hz-week")
    assert re.search(rf'<option value="{booster.pk}" selected>Booster, 10 Hz', page)
    assert f'<option value="{catalog_protocol("maintenance-10hz").pk}"' not in page
    assert 'name="start_date" value="2026-11-27"' in page
    assert 'name="preferred_time" value="08:30"' in page
    assert "5 treatment sessions, 5 a week" in page  # the protocols' schedules


def test_preview_then_confirm(doctor: Client, acute: Any, psychiatrist: Any) -> None:
    MotorThresholdFactory(course=acute, measured_on=dt.date(2026, 11, 2))
    before = _stored()
    preview = doctor.post(f"/courses/{acute.pk}/booster/", {**_form(), "action": "preview"})
    assert preview.status_code == 200
    text = _text(preview)
    assert _stored() == before
    assert "Preview: 5 sessions" in text
    assert "the motor threshold measured on 2 Nov 2026 is reused" in text
    assert "Mon 30 Nov 2026" in text and "Fri 4 Dec 2026" in text
    assert "08:30\u201309:10" in text  # treatment slots: no mapping session
    assert "Confirm: prescribe and book 5 sessions" in text
    carried = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))
    assert carried["start_date"] == "2026-11-30" and carried["preferred_time"] == "08:30"
    done = doctor.post(f"/courses/{acute.pk}/booster/", {**carried, "action": "confirm"})
    booster = TreatmentCourse.objects.get(type=CourseType.BOOSTER)
    assert done.status_code == 302
    assert done["Location"] == f"/courses/{booster.pk}/"
    assert (booster.follows, booster.psychiatrist) == (acute, psychiatrist)
    assert Session.objects.filter(course=booster).count() == 5
    page = _text(doctor.get(done["Location"]))
    assert "Booster course prescribed and 5 sessions booked." in page
    assert "Booster course</strong>, following the" in page


def test_a_conflict_is_shown_and_nothing_stored(
    doctor: Client, acute: Any, clinic: Any, chairs: list[Any]
) -> None:
    for chair in chairs:
        ChairBlockFactory(
            chair=chair,
            starts_at=dt.datetime(2026, 12, 2, 7, tzinfo=clinic.tz),
            ends_at=dt.datetime(2026, 12, 2, 19, tzinfo=clinic.tz),
        )
    response = doctor.post(f"/courses/{acute.pk}/booster/", {**_form(), "action": "confirm"})
    assert response.status_code == 409
    assert "Wed 2 Dec 2026: no chair is free at that time" in _text(response)
    assert _stored() == (1, 0)


def test_a_maintenance_protocol_is_not_offered(doctor: Client, acute: Any) -> None:
    maintenance = str(catalog_protocol("maintenance-10hz").pk)
    response = doctor.post(
        f"/courses/{acute.pk}/booster/", {**_form(protocol=maintenance), "action": "preview"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in _text(response)


@pytest.mark.parametrize(
    ("day", "words"),
    [
        ("9999-12-31", "Choose a date between"),
        ("2026-11-24", "cannot start in the past"),
        ("2026-11-26", ""),  # tomorrow, after the course ended on 20 Nov: fine
    ],
)
def test_start_dates_are_checked(doctor: Client, acute: Any, day: str, words: str) -> None:
    response = doctor.post(
        f"/courses/{acute.pk}/booster/", {**_form(start_date=day), "action": "preview"}
    )
    if not words:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert words in _text(response)
    assert _stored() == (1, 0)


@pytest.mark.parametrize(
    ("actor", "expected", "booking"),
    [
        ("anonymous", 302, 302),  # to the sign-in page
        (Role.FRONT_DESK, 403, 403),
        (Role.TECHNICIAN, 403, 403),
        (Role.CLINIC_ADMIN, 403, 403),
        (Role.PSYCHIATRIST, 200, 302),  # to the new course's page
        # May open it, but is no psychiatrist of the clinic to prescribe it: refused.
        ("superuser", 200, 400),
        ("outsider", 404, 404),  # another clinic's psychiatrist: the course is unknown
    ],
)
def test_who_may_open_the_page(
    actor: str,
    expected: int,
    booking: int,
    client: Client,
    acute: Any,
    staff: Any,
    superuser: Any,
) -> None:
    if actor == "superuser":
        client.force_login(superuser)
    elif actor == "outsider":
        client.force_login(staff(Role.PSYCHIATRIST, in_clinic=ClinicFactory(slug="elsewhere")))
    elif actor != "anonymous":
        client.force_login(staff(actor))
    assert client.get(f"/courses/{acute.pk}/booster/").status_code == expected
    posted = client.post(f"/courses/{acute.pk}/booster/", {**_form(), "action": "confirm"})
    assert posted.status_code == booking
    booked = TreatmentCourse.objects.filter(type=CourseType.BOOSTER).exists()
    assert booked == (actor == Role.PSYCHIATRIST)


# PostgreSQL's count, as the service's (tests/scheduling/test_booster.py).
@pytest.mark.postgres
@pytest.mark.parametrize("protocol", ["booster-10hz-week", "10hz-standard"])
def test_the_preview_page_makes_a_fixed_number_of_queries(
    doctor: Client, acute: Any, protocol: str, django_assert_num_queries: Any
) -> None:
    form = {**_form(protocol=str(catalog_protocol(protocol).pk)), "action": "preview"}
    with django_assert_num_queries(PAGE_PREVIEW_QUERIES):
        response = doctor.post(f"/courses/{acute.pk}/booster/", form)
    assert response.status_code == 200


# The session, user, second factor, roles and clinic; the course and the booster
# protocols; the service's (as the API's); the chair names, the open-course notice, the
# form's protocol choices, and the audit trail's read event and the session save.
PAGE_PREVIEW_QUERIES = 51
