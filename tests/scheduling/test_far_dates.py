# ruff: noqa: F811  (the fixtures imported from tests/scheduling/conftest.py)
"""Far dates are 400s, never 500s (issue 15, item 6).

The attacks as sent: a closure dated 9999-12-31 (after which the closures list, its
affected sessions and rebook failed for everyone), ``date=9999-12-31`` on the board,
availability and sessions, and courses starting on 9999-12-31 or 0001-01-01. Every
date and time a request carries goes through clinic.dates' fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django import forms
from django.test import Client
from django_filters import rest_framework as rest_filters
from rest_framework import serializers

from clinic import dates
from clinic.models import Closure, Role
from tests.factories import ChairFactory, PatientFactory, cleared_screening
from tests.scheduling.conftest import chairs, frozen_now, make_course, psychiatrist  # noqa: F401

pytestmark = pytest.mark.usefixtures("frozen_now")  # Wednesday 25 November 2026

FAR = ["9999-12-31", "0001-01-01", "2100-01-01", "1899-12-31"]


@pytest.fixture
def admin(api_as: Callable[..., Any]) -> Any:
    return api_as(Role.CLINIC_ADMIN)


@pytest.fixture
def desk(api_as: Callable[..., Any]) -> Any:
    return api_as(Role.FRONT_DESK)


def _out_of_range(response: Any, field: str) -> None:
    assert response.status_code == 400, response.content
    assert response.data["errors"][field][0].code == "out_of_range"


@pytest.mark.parametrize("day", FAR)
def test_a_far_closure_is_refused(clinic: Any, admin: Any, day: str) -> None:
    response = admin.post("/api/v1/closures/", {"clinic": clinic.pk, "date": day}, format="json")
    _out_of_range(response, "date")
    assert not Closure.objects.exists()


def test_a_closure_cannot_be_moved_far(clinic: Any, admin: Any) -> None:
    closure = Closure.objects.create(clinic=clinic, date=dt.date(2026, 12, 24))
    response = admin.patch(f"/api/v1/closures/{closure.pk}/", {"date": "9999-12-31"}, "json")
    _out_of_range(response, "date")
    assert admin.get("/api/v1/closures/").status_code == 200
    assert admin.get(f"/api/v1/closures/{closure.pk}/affected-sessions/").status_code == 200
    assert admin.post(f"/api/v1/closures/{closure.pk}/rebook/").status_code == 200


@pytest.mark.parametrize("query", ["date", "date_from", "date_to"])
def test_closure_filters_refuse_far_dates(clinic: Any, admin: Any, query: str) -> None:
    response = admin.get("/api/v1/closures/", {query: "9999-12-31"})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/board/", "/api/v1/availability/"])
@pytest.mark.parametrize("day", FAR)
def test_board_and_availability_refuse_far_dates(
    clinic: Any, desk: Any, chairs: Any, path: str, day: str
) -> None:
    _out_of_range(desk.get(path, {"clinic": clinic.pk, "date": day}), "date")


@pytest.mark.parametrize("day", FAR)
def test_the_sessions_list_refuses_far_dates(clinic: Any, desk: Any, day: str) -> None:
    response = desk.get("/api/v1/sessions/", {"clinic": clinic.pk, "date": day})
    assert response.status_code == 400
    assert "date" in response.json()["errors"]


@pytest.mark.parametrize("day", FAR)
def test_a_course_starting_far_is_refused(
    clinic: Any, api_as: Callable[..., Any], psychiatrist: Any, day: str
) -> None:
    patient = PatientFactory(clinic=clinic)
    cleared_screening(patient, by=psychiatrist)
    payload = {
        "patient": patient.pk,
        "psychiatrist": psychiatrist.pk,
        "protocol": "10hz-standard",
        "indication": "mdd",
        "start_date": day,
        "preferred_time": "09:30",
    }
    response = api_as(Role.PSYCHIATRIST).post("/api/v1/courses/", payload, format="json")
    _out_of_range(response, "start_date")


@pytest.mark.parametrize("starts_at", ["9999-12-31T23:30:00Z", "0001-01-01T00:00:00Z"])
def test_a_session_booked_or_moved_far_is_refused(
    desk: Any, make_course: Callable[..., Any], chairs: Any, starts_at: str
) -> None:
    course = make_course()
    booked = desk.post(
        "/api/v1/sessions/", {"course": course.pk, "starts_at": starts_at}, format="json"
    )
    _out_of_range(booked, "starts_at")
    ok = desk.post(
        "/api/v1/sessions/",
        {"course": course.pk, "starts_at": "2026-11-30T15:00:00Z"},
        format="json",
    )
    assert ok.status_code == 201, ok.content
    moved = desk.patch(f"/api/v1/sessions/{ok.json()['id']}/", {"starts_at": starts_at}, "json")
    _out_of_range(moved, "starts_at")


def test_a_far_chair_block_is_refused(clinic: Any, admin: Any) -> None:
    chair = ChairFactory(clinic=clinic)
    payload = {
        "chair": chair.pk,
        "starts_at": "2026-12-01T15:00:00Z",
        "ends_at": "9999-12-31T23:59:00Z",
    }
    _out_of_range(admin.post("/api/v1/chair-blocks/", payload, format="json"), "ends_at")
    filtered = admin.get("/api/v1/chair-blocks/", {"starts_before": "9999-12-31T23:59:00Z"})
    assert filtered.status_code == 400


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_far_date_of_birth_and_score_are_refused(
    clinic: Any, make_course: Callable[..., Any], api_as: Any, day: str
) -> None:
    patient = {"clinic": clinic.pk, "mrn": "F-1", "first_name": "A", "last_name": "B"}
    desk = api_as(Role.FRONT_DESK)  # registers patients; a clinic admin reads them
    response = desk.post("/api/v1/patients/", {**patient, "date_of_birth": day}, format="json")
    _out_of_range(response, "date_of_birth")
    course = make_course()
    score = {"course": course.pk, "instrument": "phq9", "score": 12, "administered_on": day}
    response = api_as(Role.PSYCHIATRIST).post("/api/v1/assessments/", score, format="json")
    _out_of_range(response, "administered_on")


# --- pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path"),
    [(Role.FRONT_DESK, "/board/?date=9999-12-31"), (Role.FRONT_DESK, "/board/?date=0001-01-01")],
)
def test_day_pages_refuse_far_dates(page_as: Any, clinic: Any, role: str, path: str) -> None:
    assert page_as(role).get(path).status_code == 400


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_booking_page_refuses_a_far_start(
    page_as: Any, clinic: Any, psychiatrist: Any, chairs: Any, day: str
) -> None:
    from courses.models import Protocol

    patient = PatientFactory(clinic=clinic)
    cleared_screening(patient, by=psychiatrist)
    data = {
        "action": "preview",
        "patient": patient.pk,
        "protocol": Protocol.objects.get(code="10hz-standard", clinic=None).pk,
        "psychiatrist": psychiatrist.pk,
        "indication": "mdd",
        "start_date": day,
        "preferred_time": "09:30",
        "preferred_chair": "",
        "time_flex_minutes": "0",
    }
    response = page_as(Role.FRONT_DESK).post("/courses/book/", data)
    assert response.status_code in (200, 400)
    assert "Choose a date between" in response.content.decode()


def test_the_closures_page_refuses_a_far_date(page_as: Any, clinic: Any) -> None:
    response = page_as(Role.CLINIC_ADMIN).post("/closures/", {"date": "9999-12-31"})
    assert response.status_code in (200, 400)
    assert "Choose a date between" in response.content.decode()
    assert not Closure.objects.exists()


def test_the_admin_refuses_a_far_closure(superuser: Any, clinic: Any) -> None:
    """The admin's forms are built from the models, whose date columns carry the check."""
    client = Client()
    client.force_login(superuser)
    response = client.post(
        "/admin/clinic/closure/add/", {"clinic": clinic.pk, "date": "9999-12-31", "reason": "x"}
    )
    assert response.status_code == 200
    assert "Choose a date between" in response.content.decode()
    assert not Closure.objects.exists()


def test_a_far_date_is_answered_once(clinic: Any, api_as: Any) -> None:
    """The model's validator and the serializer field's are one check, one message."""
    body = {"clinic": clinic.pk, "mrn": "F-2", "first_name": "A", "last_name": "B"}
    desk = api_as(Role.FRONT_DESK)
    response = desk.post("/api/v1/patients/", {**body, "date_of_birth": "0001-01-01"}, "json")
    assert response.json()["errors"] == {"date_of_birth": [dates.OUT_OF_RANGE]}


# --- one shared field everywhere -----------------------------------------------------------


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


APPS = ("clinic.", "courses.", "scheduling.", "notifications.")


def test_every_date_field_of_the_apps_is_the_shared_one() -> None:
    """A new serializer, filter or form with a plain date field fails here."""
    import clinic.urls  # noqa: F401  (imports every app's API and pages)

    plain: list[str] = []
    checked = 0
    for serializer in _subclasses(serializers.Serializer):
        abstract = issubclass(serializer, serializers.ModelSerializer) and not hasattr(
            serializer, "Meta"
        )
        if abstract or not serializer.__module__.startswith(APPS):
            continue
        for name, field in serializer().fields.items():
            temporal = isinstance(field, serializers.DateField | serializers.DateTimeField)
            if temporal and not field.read_only:
                checked += 1
                if not isinstance(field, dates._Bounded):
                    plain.append(f"{serializer.__qualname__}.{name}")
    for filterset in _subclasses(rest_filters.FilterSet):
        if filterset.__module__.startswith(APPS):
            for name, found in filterset.base_filters.items():
                field_class = found.field_class
                if issubclass(field_class, forms.DateField | forms.DateTimeField) and not (
                    issubclass(field_class, dates._Bounded)
                ):
                    plain.append(f"{filterset.__qualname__}.{name}")
    for form in _subclasses(forms.BaseForm):
        if form.__module__.startswith(APPS):
            for name, field in getattr(form, "base_fields", {}).items():
                temporal = isinstance(field, forms.DateField | forms.DateTimeField)
                if temporal and not isinstance(field, dates._Bounded):
                    plain.append(f"{form.__qualname__}.{name}")
    assert plain == []
    assert checked > 10  # it found the API's writable dates (start_date, starts_at, ...)
