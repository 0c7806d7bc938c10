"""Each rule lives in one service, so the API and the staff pages refuse the same
things with the same status and message (and the API with its code): a closure in the
past, re-booking a past closure, a treatment record outside its limits, and a write
the database refused because a concurrent booking won the race."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError
from django.test import Client
from rest_framework.test import APIClient

from clinic.api_common import exception_handler
from clinic.errors import Conflict, refusal_for
from clinic.models import Closure, Role
from clinic.web import attempt
from scheduling import services
from scheduling.models import Session, SessionStatus, TreatmentRecord
from tests.factories import ClosureFactory, SessionFactory

pytestmark = pytest.mark.usefixtures("frozen_now")

NY = ZoneInfo("America/New_York")
TODAY = dt.date(2026, 11, 25)  # frozen_now: Wednesday, 12:00 in New York
HTMX = {"HX-Request": "true"}


def _text(response: Any) -> str:
    return unescape(response.content.decode())


def _checked_in(make_course: Callable[..., Any], chairs: list[Any]) -> Session:
    start = dt.datetime.combine(TODAY, dt.time(9, 30), tzinfo=NY)
    return SessionFactory(
        course=make_course(),
        chair=chairs[0],
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=40),
        status=SessionStatus.CHECKED_IN,
    )


# --- a closure cannot be in the past -----------------------------------------------------


def test_a_closure_in_the_past_is_refused_by_the_api_and_the_page(
    clinic: Any, api_as: Callable[[str], APIClient], page_as: Callable[[str], Client]
) -> None:
    message = "A closure cannot be in the past."
    response = api_as(Role.CLINIC_ADMIN).post(
        "/api/v1/closures/", {"clinic": clinic.pk, "date": "2026-11-24"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"date": [message]}

    response = page_as(Role.CLINIC_ADMIN).post("/closures/", {"date": "2026-11-24"})
    assert response.status_code == 400
    assert message in _text(response)
    assert not Closure.objects.exists()


def test_today_is_not_the_past_in_the_clinics_own_time_zone(
    clinic: Any, api_as: Callable[[str], APIClient]
) -> None:
    response = api_as(Role.CLINIC_ADMIN).post(
        "/api/v1/closures/", {"clinic": clinic.pk, "date": TODAY.isoformat()}, format="json"
    )
    assert response.status_code == 201


def test_a_past_closure_may_not_move_to_another_past_day_but_keeps_its_reason_editable(
    clinic: Any, api_as: Callable[[str], APIClient]
) -> None:
    past = ClosureFactory(clinic=clinic, date=dt.date(2026, 11, 20), reason="Storm")
    client = api_as(Role.CLINIC_ADMIN)
    url = f"/api/v1/closures/{past.pk}/"
    moved = client.patch(url, {"date": "2026-11-19"}, format="json")
    assert moved.status_code == 400
    assert moved.json()["errors"] == {"date": ["A closure cannot be in the past."]}
    renamed = client.patch(url, {"reason": "Snow storm"}, format="json")
    assert renamed.status_code == 200
    past.refresh_from_db()
    assert (past.date, past.reason) == (dt.date(2026, 11, 20), "Snow storm")


# --- only a closure from today on is re-booked -----------------------------------------


def test_rebooking_a_past_closure_is_409_closure_past_through_both(
    clinic: Any, api_as: Callable[[str], APIClient], page_as: Callable[[str], Client]
) -> None:
    past = ClosureFactory(clinic=clinic, date=dt.date(2026, 11, 20))
    message = "Friday 20 November 2026 has passed: its sessions are kept as they happened."

    response = api_as(Role.FRONT_DESK).post(f"/api/v1/closures/{past.pk}/rebook/")
    assert response.status_code == 409
    assert response.json() == {"code": "closure_past", "detail": message, "conflicts": []}

    response = page_as(Role.FRONT_DESK).post(f"/closures/{past.pk}/rebook/")
    assert response.status_code == 409
    assert message in _text(response)


def test_a_closure_of_today_is_still_rebooked(
    clinic: Any, api_as: Callable[[str], APIClient], page_as: Callable[[str], Client]
) -> None:
    today = ClosureFactory(clinic=clinic, date=TODAY)
    assert api_as(Role.FRONT_DESK).post(f"/api/v1/closures/{today.pk}/rebook/").status_code == 200
    assert page_as(Role.FRONT_DESK).post(f"/closures/{today.pk}/rebook/").status_code == 200


# --- a treatment record stays within its limits ----------------------------------------


RECORD = {
    "pulses_delivered": 3000,
    "intensity_pct_mt": 120,
    "coil_position": "Beam F3",
    "side_effects": [],
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"notes": "x" * 2001}, "notes", "at most 2000 characters (it has 2001)"),
        ({"intensity_pct_mt": 500}, "intensity_pct_mt", "less than or equal to 200"),
        ({"pulses_delivered": 100_001}, "pulses_delivered", "less than or equal to 100000"),
    ],
)
def test_a_record_outside_its_limits_is_refused_by_the_api_and_the_page(
    make_course: Callable[..., Any],
    chairs: list[Any],
    api_as: Callable[[str], APIClient],
    page_as: Callable[[str], Client],
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    session = _checked_in(make_course, chairs)
    response = api_as(Role.TECHNICIAN).post(
        f"/api/v1/sessions/{session.pk}/complete/", {**RECORD, **change}, format="json"
    )
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"][field])

    form = {f"s{session.pk}-{name}": value for name, value in {**RECORD, **change}.items()}
    for headers in (HTMX, {}):
        response = page_as(Role.TECHNICIAN).post(
            f"/today/sessions/{session.pk}/complete/", form, headers=headers
        )
        assert response.status_code == 400
        assert message in _text(response)
    session.refresh_from_db()
    assert session.status == SessionStatus.CHECKED_IN
    assert not TreatmentRecord.objects.exists()


def test_the_service_itself_refuses_a_record_outside_its_limits(
    make_course: Callable[..., Any], chairs: list[Any], staff: Callable[..., Any]
) -> None:
    session = _checked_in(make_course, chairs)
    _, refusal = attempt(
        lambda: services.session_complete(
            session, technician=staff(Role.TECHNICIAN), **{**RECORD, "side_effects": ["hiccups"]}
        )
    )
    assert refusal is not None
    assert (refusal.status, refusal.code) == (400, "unknown_side_effect")
    assert refusal.fields == {"side_effects": ["Choose side effects from the list."]}


# --- one answer to a refusal, whoever asked -----------------------------------------------


class _Diagnostics:
    constraint_name = "session_chair_no_overlap"


class _DriverError(Exception):
    diag = _Diagnostics()


def _lost_race() -> IntegrityError:
    """What psycopg raises when the chair's exclusion constraint stops an insert."""
    error = IntegrityError("conflicting key value violates exclusion constraint")
    error.__cause__ = _DriverError()
    return error


def test_a_booking_that_lost_the_race_is_slot_conflict_on_the_page_and_the_api(
    make_course: Callable[..., Any],
    chairs: list[Any],
    api_as: Callable[[str], APIClient],
    page_as: Callable[[str], Client],
    monkeypatch: Any,
) -> None:
    def lose(*args: Any, **kwargs: Any) -> Any:
        raise _lost_race()

    course = make_course()
    monkeypatch.setattr(services, "course_schedule", lose)
    monkeypatch.setattr(services, "course_schedule_booking", lose)
    monkeypatch.setattr(services, "course_book", lose)
    message = "That chair was just booked by someone else."

    response = api_as(Role.FRONT_DESK).post(
        f"/api/v1/courses/{course.pk}/schedule/", {}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {"code": "slot_conflict", "detail": message, "conflicts": []}

    fields = {
        "patient": course.patient_id,
        "protocol": course.protocol_id,
        "psychiatrist": course.psychiatrist_id,
        "indication": course.indication,
        "start_date": "2026-11-30",
        "preferred_time": "09:30",
        "time_flex_minutes": "0",
        "action": "confirm",
    }
    response = page_as(Role.FRONT_DESK).post("/courses/book/", fields)
    assert response.status_code == 409
    assert message in _text(response)
    assert "concurrent_booking" not in _text(response)


@pytest.mark.parametrize(
    "refused",
    [
        Conflict("A scheduled session cannot be completed.", code="invalid_transition"),
        _lost_race(),
    ],
)
def test_the_api_and_the_pages_answer_a_refusal_alike(refused: Exception) -> None:
    def change() -> None:
        raise refused

    _, refusal = attempt(change)
    assert refusal == refusal_for(refused)
    response = exception_handler(refused, {})
    assert response is not None and refusal is not None
    assert (response.status_code, response.data["code"], response.data["detail"]) == (
        refusal.status,
        refusal.code,
        refusal.message,
    )
