"""The waitlist API: its role matrix (each role, anonymous, another clinic's admin, a
superuser), the book-offer action's, dates range-checked, and the list's queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clinic.models import Role
from scheduling import services
from scheduling.models import Session, WaitlistEntry
from tests.factories import ChairFactory, CourseFactory, PatientFactory, cleared_screening
from tests.permissions import ACTIONS, ACTORS, ALL, Action, Resource, run_action, run_cell

BOOKERS = frozenset({Role.FRONT_DESK, Role.CLINIC_ADMIN})
FUTURE_MONDAY = dt.date(2027, 6, 7)


def _planned_course(clinic: Any) -> Any:
    course = CourseFactory(patient=PatientFactory(clinic=clinic), start_date=FUTURE_MONDAY)
    cleared_screening(course.patient, by=course.psychiatrist)
    return course


def _entry(clinic: Any, **fields: Any) -> WaitlistEntry:
    return WaitlistEntry.objects.create(
        clinic=clinic,
        course=_planned_course(clinic),
        preferred_time=dt.time(9, 30),
        not_before=timezone.localdate(),
        **fields,
    )


def _offered(clinic: Any) -> WaitlistEntry:
    ChairFactory(clinic=clinic)
    return _entry(clinic, offer_start=FUTURE_MONDAY, fit_start=FUTURE_MONDAY)


WAITLIST = Resource(
    path="/api/v1/waitlist/",
    target=_entry,
    create=lambda clinic: {
        "course": _planned_course(clinic).pk,
        "preferred_time": "16:30",
        "time_preference": "after",
        "time_flex_minutes": 60,
        "weekdays": [0, 2, 4],
        "not_before": timezone.localdate().isoformat(),
    },
    patch={"time_flex_minutes": 30},
    read=ALL,
    create_roles=BOOKERS,
    update_roles=BOOKERS,
    delete_roles=BOOKERS,
)


def _fixtures(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", ACTORS)
def test_waitlist_role_matrix(
    actor: str, action: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    fixtures = _fixtures(
        clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
    )
    run_cell(WAITLIST, actor, action, fixtures)


BOOK_OFFER = Action(
    "post", lambda e: f"/api/v1/waitlist/{e.pk}/book-offer/", _offered, {}, BOOKERS, 201
)


DISMISS_OFFER = Action(
    "post", lambda e: f"/api/v1/waitlist/{e.pk}/dismiss-offer/", _offered, {}, BOOKERS, 200
)


@pytest.mark.parametrize("actor", ACTORS)
def test_dismiss_offer_role_matrix(
    actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    fixtures = _fixtures(
        clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
    )
    run_action(DISMISS_OFFER, actor, fixtures)


def test_a_dismissed_offer_keeps_the_entry_waiting_until_the_start_moves_earlier(
    clinic: Any, staff: Any, api: Any
) -> None:
    entry = _offered(clinic)
    desk = api(staff(Role.FRONT_DESK))
    response = desk.post(f"/api/v1/waitlist/{entry.pk}/dismiss-offer/")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["offer_start"]) == ("waiting", None)
    again = desk.post(f"/api/v1/waitlist/{entry.pk}/dismiss-offer/")
    assert (again.status_code, again.json()["code"]) == (409, "no_offer")
    # Worked out again with nothing changed: the same start is no new offer.
    entry.refresh_from_db()
    WaitlistEntry.objects.filter(pk=entry.pk).update(fit_start=entry.fit_start)
    services.waitlist_refresh(clinic.pk)
    entry.refresh_from_db()
    assert entry.offer_start is None


@pytest.mark.parametrize("actor", ACTORS)
def test_book_offer_role_matrix(
    actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    fixtures = _fixtures(
        clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
    )
    run_action(BOOK_OFFER, actor, fixtures)


def test_booking_from_an_offer_answers_the_sessions_and_closes_the_entry(
    clinic: Any, staff: Any, api: Any
) -> None:
    entry = _offered(clinic)
    response = api(staff(Role.FRONT_DESK)).post(f"/api/v1/waitlist/{entry.pk}/book-offer/")
    assert response.status_code == 201, response.content
    assert len(response.json()) == Session.objects.filter(course=entry.course).count() > 0
    entry.refresh_from_db()
    assert entry.status == "booked"
    again = api(staff(Role.FRONT_DESK)).post(f"/api/v1/waitlist/{entry.pk}/book-offer/")
    assert again.status_code == 409
    assert again.json()["code"] == "not_waiting"


def test_no_offer_is_a_409(clinic: Any, staff: Any, api: Any) -> None:
    entry = _entry(clinic)
    response = api(staff(Role.FRONT_DESK)).post(f"/api/v1/waitlist/{entry.pk}/book-offer/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_offer"


@pytest.mark.parametrize("not_before", ["1999-01-01", "2099-01-01", "12345-01-01", "soon"])
def test_dates_are_range_checked(clinic: Any, staff: Any, api: Any, not_before: str) -> None:
    body = {**WAITLIST.create(clinic), "not_before": not_before}
    response = api(staff(Role.FRONT_DESK)).post("/api/v1/waitlist/", body, format="json")
    assert response.status_code == 400
    assert "not_before" in response.json()["errors"]


def test_weekdays_must_name_a_day(clinic: Any, staff: Any, api: Any) -> None:
    body = {**WAITLIST.create(clinic), "weekdays": []}
    response = api(staff(Role.FRONT_DESK)).post("/api/v1/waitlist/", body, format="json")
    assert response.status_code == 400
    assert "weekdays" in response.json()["errors"]


def test_the_list_costs_the_same_queries_for_more_entries(
    clinic: Any, staff: Any, api: Any, django_assert_num_queries: Any
) -> None:
    client = api(staff(Role.FRONT_DESK))
    _entry(clinic)
    client.get("/api/v1/waitlist/")  # warm the per-user caches
    with django_assert_num_queries(5) as one:
        assert client.get("/api/v1/waitlist/").status_code == 200
    for _ in range(5):
        _entry(clinic)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get("/api/v1/waitlist/")
    assert len(response.json()["results"]) == 6
    assert response.json()["results"][0]["weekdays"] == [0, 1, 2, 3, 4]
