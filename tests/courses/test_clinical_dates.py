# ruff: noqa: F811  (the fixtures imported from tests/scheduling/conftest.py)
"""Clinical dates have sane ranges, refused alike by the API and the pages: scores and
motor thresholds are dated on a day that has been (not in the clinic's future, not
before the patient's birth), a date of birth lies between 1900 and today, and a course
starts within a year of today. A far date would otherwise stay "latest" for good."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from clinic.dates import OUT_OF_RANGE
from clinic.models import Patient, Role
from courses.models import Assessment, MotorThreshold, TreatmentCourse
from tests.scheduling.conftest import (  # noqa: F401
    chairs,
    frozen_now,
    make_course,
    psychiatrist,
)

pytestmark = pytest.mark.usefixtures("frozen_now")  # Wednesday 25 November 2026, New York


@pytest.fixture
def course(make_course: Callable[..., Any]) -> Any:
    course = make_course()
    Patient.objects.filter(pk=course.patient_id).update(date_of_birth=dt.date(1980, 5, 1))
    course.patient.refresh_from_db()
    return course


@pytest.mark.parametrize(
    ("day", "message"),
    [
        # Outside clinic.dates' range, the shared field answers before the clinical rule.
        ("9999-12-31", OUT_OF_RANGE),
        ("2026-11-26", "This date is in the future."),  # tomorrow in New York
        ("1979-01-01", "This date is before the patient was born."),
    ],
)
def test_a_score_dated_outside_the_patients_life_so_far_is_refused(
    course: Any,
    api_as: Callable[[str], APIClient],
    page_as: Callable[[str], Client],
    day: str,
    message: str,
) -> None:
    body = {
        "course": course.pk,
        "instrument": "phq9",
        "score": 12,
        "suicide_item": 0,
        "administered_on": day,
    }
    response = api_as(Role.PSYCHIATRIST).post("/api/v1/assessments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"administered_on": [message]}

    form = {"instrument": "phq9", "score": "12", "suicide_item": "0", "administered_on": day}
    response = page_as(Role.PSYCHIATRIST).post(f"/courses/{course.pk}/assessments/", form)
    assert response.status_code == 400
    assert message in unescape(response.content.decode())
    assert not Assessment.objects.exists()


def test_a_score_of_today_is_recorded(course: Any, api_as: Callable[[str], APIClient]) -> None:
    body = {
        "course": course.pk,
        "instrument": "phq9",
        "score": 12,
        "suicide_item": 0,
        "administered_on": "2026-11-25",
    }
    response = api_as(Role.PSYCHIATRIST).post("/api/v1/assessments/", body, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("day", ["9999-12-31", "1970-01-01"])
def test_a_motor_threshold_dated_outside_the_patients_life_so_far_is_refused(
    course: Any, api_as: Callable[[str], APIClient], page_as: Callable[[str], Client], day: str
) -> None:
    body = {"course": course.pk, "measured_on": day, "machine_output_pct": 58, "method": "visual"}
    response = api_as(Role.TECHNICIAN).post("/api/v1/motor-thresholds/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["measured_on"]

    form = {"measured_on": day, "machine_output_pct": "58", "method": "visual"}
    response = page_as(Role.TECHNICIAN).post(f"/courses/{course.pk}/motor-thresholds/", form)
    assert response.status_code == 400
    assert not MotorThreshold.objects.exists()


@pytest.mark.parametrize("born", ["0001-01-01", "1899-12-31", "2026-11-26"])
def test_a_date_of_birth_lies_between_1900_and_today(
    clinic: Any, api_as: Callable[[str], APIClient], born: str
) -> None:
    body = {
        "clinic": clinic.pk,
        "mrn": "BK-7001",
        "first_name": "Ana",
        "last_name": "Lima",
        "date_of_birth": born,
        "phone": "+13475550111",
    }
    response = api_as(Role.FRONT_DESK).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["date_of_birth"]
    assert (
        api_as(Role.FRONT_DESK)
        .post("/api/v1/patients/", {**body, "date_of_birth": "1900-01-01"}, format="json")
        .status_code
        == 201
    )


@pytest.mark.parametrize(
    "start", ["1900-01-04", "2025-11-24", "2027-11-26", pytest.param("9999-12-31", id="far")]
)
def test_a_course_starts_within_a_year_of_today(
    course: Any, api_as: Callable[[str], APIClient], psychiatrist: Any, start: str
) -> None:
    patient = course.patient
    TreatmentCourse.objects.filter(pk=course.pk).update(status="completed")
    body = {
        "patient": patient.pk,
        "psychiatrist": psychiatrist.pk,
        "protocol": course.protocol_id,
        "indication": "mdd",
        "start_date": start,
        "preferred_time": "09:30",
    }
    response = api_as(Role.PSYCHIATRIST).post("/api/v1/courses/", body, format="json")
    assert response.status_code == 400
    rule = OUT_OF_RANGE if start == "9999-12-31" else "A course starts within a year of today."
    assert response.json()["errors"] == {"start_date": [rule]}
    moved = api_as(Role.PSYCHIATRIST).patch(
        f"/api/v1/courses/{course.pk}/", {"start_date": start}, format="json"
    )
    assert moved.status_code in (400, 409)  # a completed course cannot change at all
