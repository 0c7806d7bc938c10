"""``POST /api/v1/courses/{id}/booster/``: preview then book, each refusal with its
status and code, far dates, who may call it, the preview's queries and the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from clinic.models import Role
from courses.models import CourseStatus, CourseType, TreatmentCourse
from scheduling.models import Session
from tests.factories import (
    ChairBlockFactory,
    ClinicFactory,
    MotorThresholdFactory,
    ScreeningFactory,
)

pytestmark = pytest.mark.usefixtures("frozen_now")  # Wednesday 25 November 2026

BODY = {"protocol": "booster-10hz-week", "start_date": "2026-11-30", "preferred_time": "10:00"}


@pytest.fixture
def acute(make_course: Any, chairs: list[Any]) -> Any:
    return make_course(status=CourseStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))


@pytest.fixture
def doctor(psychiatrist: Any, api: Any) -> Any:
    return api(psychiatrist)


def _path(course: Any) -> str:
    return f"/api/v1/courses/{course.pk}/booster/"


def _stored() -> tuple[int, int]:
    return TreatmentCourse.objects.count(), Session.objects.count()


def test_preview_then_book(doctor: Any, acute: Any, psychiatrist: Any) -> None:
    threshold = MotorThresholdFactory(course=acute, measured_on=dt.date(2026, 11, 2))
    before = _stored()
    preview = doctor.post(_path(acute), {**BODY, "dry_run": True}, format="json")
    assert preview.status_code == 200, preview.content
    planned = preview.json()
    assert _stored() == before
    assert [s["sequence"] for s in planned["sessions"]] == [1, 2, 3, 4, 5]
    assert {s["kind"] for s in planned["sessions"]} == {"treatment"}  # no mapping
    assert planned["reused_motor_threshold"] == threshold.pk
    assert planned["warnings"] == [] and planned["outside_authorization"] == []
    assert "id" not in planned["sessions"][0]
    done = doctor.post(_path(acute), BODY, format="json")
    assert done.status_code == 201, done.content
    body = done.json()
    course = body["course"]
    assert (course["type"], course["follows"], course["psychiatrist"]) == (
        CourseType.BOOSTER,
        acute.pk,
        psychiatrist.pk,
    )
    assert (course["patient"], course["protocol"], course["status"]) == (
        acute.patient_id,
        "booster-10hz-week",
        "planned",
    )
    assert course["sessions_total"] == 5  # the threshold reused: no mapping session
    assert [s["starts_at"] for s in body["sessions"]] == [
        s["starts_at"] for s in planned["sessions"]
    ]
    assert body["sessions"][0]["starts_at"] == "2026-11-30T15:00:00Z"  # 10:00 in New York
    assert Session.objects.filter(course_id=course["id"]).count() == 5


def test_without_a_recent_threshold_the_first_session_maps(doctor: Any, acute: Any) -> None:
    preview = doctor.post(_path(acute), {**BODY, "dry_run": True}, format="json")
    planned = preview.json()
    assert [s["kind"] for s in planned["sessions"]] == ["mapping"] + ["treatment"] * 4
    assert planned["reused_motor_threshold"] is None


def test_an_open_course_is_refused(doctor: Any, make_course: Any, chairs: list[Any]) -> None:
    active = make_course(status=CourseStatus.ACTIVE, start=dt.date(2026, 11, 2))
    response = doctor.post(_path(active), BODY, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "course_not_ended"


def test_a_second_open_course_is_refused(doctor: Any, acute: Any) -> None:
    assert doctor.post(_path(acute), BODY, format="json").status_code == 201
    again = doctor.post(_path(acute), {**BODY, "start_date": "2026-12-14"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "course_exists"


def test_a_screening_not_cleared_is_refused(doctor: Any, acute: Any) -> None:
    ScreeningFactory(patient=acute.patient)
    response = doctor.post(_path(acute), BODY, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "screening_required"
    assert _stored() == (1, 0)


def test_sessions_that_do_not_fit_refuse_the_whole_booster(
    doctor: Any, acute: Any, clinic: Any, chairs: list[Any]
) -> None:
    for chair in chairs:
        ChairBlockFactory(
            chair=chair,
            starts_at=dt.datetime(2026, 12, 3, 7, tzinfo=clinic.tz),
            ends_at=dt.datetime(2026, 12, 3, 19, tzinfo=clinic.tz),
        )
    response = doctor.post(_path(acute), {**BODY, "dry_run": True}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "slot_conflict"
    assert [entry["date"] for entry in body["conflicts"]] == ["2026-12-03"]
    assert doctor.post(_path(acute), BODY, format="json").status_code == 409
    assert _stored() == (1, 0)


def test_a_maintenance_protocol_is_refused(doctor: Any, acute: Any) -> None:
    response = doctor.post(_path(acute), {**BODY, "protocol": "maintenance-10hz"}, format="json")
    assert response.status_code == 400
    error = response.data["errors"]["protocol"][0]  # the envelope's code is `invalid`
    assert error.code == "not_booster_protocol"
    assert "begin with a treatment phase" in error


@pytest.mark.parametrize(
    ("start", "code"),
    [
        ("2026-11-19", "starts_before_followed_end"),
        ("2027-12-06", "out_of_range"),  # more than a year ahead: the course rule
    ],
)
def test_start_dates_are_checked(doctor: Any, acute: Any, start: str, code: str) -> None:
    response = doctor.post(_path(acute), {**BODY, "start_date": start}, format="json")
    assert response.status_code == 400
    assert response.data["errors"]["start_date"][0].code == code


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2100-01-01", "1899-12-31"])
def test_far_start_dates_are_400s(doctor: Any, acute: Any, day: str) -> None:
    response = doctor.post(_path(acute), {**BODY, "start_date": day}, format="json")
    assert response.status_code == 400, response.content
    assert response.data["errors"]["start_date"][0].code == "out_of_range"


def test_another_clinics_chair_is_unknown(doctor: Any, acute: Any, other_clinic: Any) -> None:
    chair = other_clinic.chairs.create(name="Theirs")
    response = doctor.post(_path(acute), {**BODY, "preferred_chair": chair.pk}, format="json")
    assert response.status_code == 400
    assert "preferred_chair" in response.json()["errors"]


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("anonymous", 401),
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.CLINIC_ADMIN, 403),
        (Role.PSYCHIATRIST, 201),
        # Not a psychiatrist of the clinic: nobody to prescribe it (400 psychiatrist).
        ("superuser", 400),
        ("outsider", 404),  # a psychiatrist of another clinic: the course is not found
    ],
)
def test_who_may_book_a_booster(
    actor: str, expected: int, acute: Any, api: Any, staff: Any, superuser: Any
) -> None:
    if actor == "anonymous":
        user = None
    elif actor == "superuser":
        user = superuser
    elif actor == "outsider":
        user = staff(Role.PSYCHIATRIST, in_clinic=ClinicFactory(slug="elsewhere"))
    else:
        user = staff(actor)
    response = api(user).post(_path(acute), BODY, format="json")
    assert response.status_code == expected, response.content
    if expected != 201:
        assert "code" in response.json()
    if actor == "superuser":
        assert set(response.json()["errors"]) == {"psychiatrist"}
    assert TreatmentCourse.objects.filter(type=CourseType.BOOSTER).count() == int(expected == 201)


# PostgreSQL's count (as tests/scheduling/test_booster.py's): the request's own
# (the token, the course and its prefetches, the protocol and chair lookups) and
# the service's, the same for a 5-session booster and a 36-session acute protocol.
@pytest.mark.postgres
@pytest.mark.parametrize("protocol", ["booster-10hz-week", "10hz-standard"])
def test_the_preview_makes_a_fixed_number_of_queries(
    doctor: Any, acute: Any, protocol: str, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(API_PREVIEW_QUERIES):
        response = doctor.post(
            _path(acute), {**BODY, "protocol": protocol, "dry_run": True}, format="json"
        )
    assert response.status_code == 200, response.content


API_PREVIEW_QUERIES = 40


def test_the_schema_documents_the_action(client: Any) -> None:
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/courses/{id}/booster/"]["post"]
    assert {"200", "201", "400", "409"} <= set(operation["responses"])
    assert "course_not_ended" in operation["responses"]["409"]["description"]
    assert "not_booster_protocol" in operation["responses"]["400"]["description"]
    conflict = operation["responses"]["409"]["content"]["application/json"]["schema"]
    assert conflict == {"$ref": "#/components/schemas/Conflict"}
    body = schema["components"]["schemas"]["BoosterRequest"]["properties"]
    assert {"protocol", "start_date", "preferred_time", "dry_run"} <= set(body)
