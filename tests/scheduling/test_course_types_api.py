"""The course API's types and plan changes: create with a type and the course
followed, lengthen and switch protocol (preview, confirm, refusal), and the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from courses.models import CourseChange, CourseStatus
from scheduling.models import Session
from scheduling.services import course_schedule
from tests.factories import ChairBlockFactory

pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def doctor(psychiatrist: Any, api: Any) -> Any:
    return api(psychiatrist)


@pytest.fixture
def acute(make_course: Any) -> Any:
    return make_course(status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))


def test_create_a_booster_that_follows_the_acute_course(
    doctor: Any, acute: Any, psychiatrist: Any
) -> None:
    payload = {
        "patient": acute.patient_id,
        "psychiatrist": psychiatrist.pk,
        "protocol": "booster-10hz-week",
        "indication": "mdd",
        "start_date": "2026-12-07",
        "preferred_time": "09:30",
        "type": "booster",
        "follows": acute.pk,
    }
    response = doctor.post("/api/v1/courses/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["type"], body["follows"], body["sessions_total"]) == ("booster", acute.pk, 5)
    # The type and the course followed are set once.
    changed = doctor.patch(f"/api/v1/courses/{body['id']}/", {"type": "acute"}, format="json")
    assert changed.status_code == 400


def test_a_maintenance_course_without_the_course_it_follows_is_refused(
    doctor: Any, acute: Any, psychiatrist: Any
) -> None:
    payload = {
        "patient": acute.patient_id,
        "psychiatrist": psychiatrist.pk,
        "protocol": "maintenance-10hz",
        "indication": "mdd",
        "start_date": "2026-12-07",
        "preferred_time": "09:30",
        "type": "maintenance",
    }
    response = doctor.post("/api/v1/courses/", payload, format="json")
    assert response.status_code == 400
    assert "follows another course" in response.json()["errors"]["follows"][0]


def test_another_clinics_course_cannot_be_followed(
    doctor: Any, acute: Any, psychiatrist: Any, make_course: Any, other_clinic: Any
) -> None:
    elsewhere = make_course(
        in_clinic=other_clinic, status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 1)
    )
    payload = {
        "patient": acute.patient_id,
        "psychiatrist": psychiatrist.pk,
        "protocol": "booster-10hz-week",
        "indication": "mdd",
        "start_date": "2026-12-07",
        "preferred_time": "09:30",
        "type": "booster",
        "follows": elsewhere.pk,
    }
    response = doctor.post("/api/v1/courses/", payload, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["errors"]["follows"][0]  # as if there were none


@pytest.fixture
def booked(make_course: Any, chairs: list[Any]) -> Any:
    course = make_course()
    course_schedule(course)
    return course


def test_lengthen_previews_then_books(doctor: Any, booked: Any) -> None:
    path = f"/api/v1/courses/{booked.pk}/lengthen/"
    body = {"sessions": 3, "reason": "Late response", "from_date": "2026-12-14"}
    preview = doctor.post(path, {**body, "dry_run": True}, format="json")
    assert preview.status_code == 200, preview.content
    planned = preview.json()
    assert len(planned["booked"]) == 29 and len(planned["released"]) == 26
    assert {session["id"] for session in planned["booked"]} == {None}
    assert planned["change"]["in_words"].startswith("3 sessions added")
    assert not CourseChange.objects.exists()
    done = doctor.post(path, body, format="json")
    assert done.status_code == 201, done.content
    assert Session.objects.filter(course=booked, status="scheduled").count() == 39
    # The preview's plan is what confirming booked.
    assert [s["starts_at"] for s in done.json()["booked"]] == [
        s["starts_at"] for s in planned["booked"]
    ]
    course = doctor.get(f"/api/v1/courses/{booked.pk}/").json()
    assert (course["added_sessions"], course["sessions_total"]) == (3, 39)


def test_switch_protocol_refused_whole_with_the_dates(
    doctor: Any, booked: Any, clinic: Any
) -> None:
    for chair in clinic.chairs.all():
        ChairBlockFactory(
            chair=chair,
            starts_at=dt.datetime(2026, 12, 15, 7, tzinfo=clinic.tz),
            ends_at=dt.datetime(2026, 12, 15, 19, tzinfo=clinic.tz),
        )
    before = list(Session.objects.filter(course=booked).values_list("id", "status"))
    response = doctor.post(
        f"/api/v1/courses/{booked.pk}/switch-protocol/",
        {"protocol": "itbs", "reason": "Shorter visits", "from_date": "2026-12-14"},
        format="json",
    )
    assert response.status_code == 409, response.content
    assert response.json()["conflicts"][0]["date"] == "2026-12-15"
    assert list(Session.objects.filter(course=booked).values_list("id", "status")) == before


def test_switch_protocol_needs_a_known_protocol(doctor: Any, booked: Any) -> None:
    response = doctor.post(
        f"/api/v1/courses/{booked.pk}/switch-protocol/",
        {"protocol": "no-such", "reason": "x"},
        format="json",
    )
    assert response.status_code == 400


def test_patch_cannot_change_a_booked_courses_protocol(doctor: Any, booked: Any) -> None:
    before = list(Session.objects.filter(course=booked).values_list("id", "starts_at"))
    response = doctor.patch(f"/api/v1/courses/{booked.pk}/", {"protocol": "itbs"}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "protocol_switch_required"
    booked.refresh_from_db()
    assert booked.protocol.code != "itbs"
    assert list(Session.objects.filter(course=booked).values_list("id", "starts_at")) == before


def test_patch_changes_the_protocol_of_a_course_not_yet_booked(
    doctor: Any, make_course: Any
) -> None:
    course = make_course()
    response = doctor.patch(f"/api/v1/courses/{course.pk}/", {"protocol": "itbs"}, format="json")
    assert response.status_code == 200, response.content
    course.refresh_from_db()
    assert course.protocol.code == "itbs"


def test_the_schema_documents_the_actions(client: Any) -> None:
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    lengthen = paths["/api/v1/courses/{id}/lengthen/"]["post"]
    switch = paths["/api/v1/courses/{id}/switch-protocol/"]["post"]
    assert {"200", "201"} <= set(lengthen["responses"]) and {"200", "201"} <= set(
        switch["responses"]
    )
    course = schema.json()["components"]["schemas"]["Course"]["properties"]
    assert {"type", "follows", "added_sessions"} <= set(course)
