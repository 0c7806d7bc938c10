"""The waitlist page, the capacity forecast (page and API) and the board's offers:
who may open and use them, what they show, and their queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from clinic.models import ChairBlock, Closure, Role
from scheduling import services
from scheduling.calendar import local_datetime
from scheduling.capacity_forecast import capacity_forecast
from scheduling.models import WaitlistEntry, WaitlistStatus
from tests.factories import ChairFactory, MembershipFactory

ROLES = [role.value for role in Role]
BOOKERS = {Role.FRONT_DESK, Role.CLINIC_ADMIN}
TOMORROW = dt.date(2026, 11, 26)  # frozen_now: Wednesday 25 November 2026
MONDAY = dt.date(2026, 11, 23)


@pytest.fixture
def login(client: Client, staff: Callable[..., Any]) -> Callable[..., Client]:
    def as_role(role: str, **kwargs: Any) -> Client:
        client.force_login(staff(role, **kwargs))
        return client

    return as_role


def _waiting(make_course: Callable[..., Any], **fields: Any) -> WaitlistEntry:
    course = make_course(start=TOMORROW, at=dt.time(9, 30))
    return services.waitlist_add(
        course, by=None, preferred_time=dt.time(9, 30), not_before=TOMORROW, **fields
    )


@pytest.mark.parametrize("path", ["/waitlist/", "/capacity/"])
@pytest.mark.parametrize("role", ROLES)
def test_page_roles(
    frozen_now: Any, login: Callable[..., Client], clinic: Any, path: str, role: str
) -> None:
    ChairFactory(clinic=clinic)
    response = login(role).get(path)
    assert response.status_code == (200 if role in BOOKERS else 403)


@pytest.mark.parametrize(
    "path",
    [
        "/waitlist/",
        "/capacity/",
        "/waitlist/1/book-offer/",
        "/waitlist/1/dismiss-offer/",
        "/waitlist/1/remove/",
    ],
)
def test_anonymous_visitors_are_sent_to_log_in(client: Client, path: str) -> None:
    response = client.get(path) if "/1/" not in path else client.post(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("action", ["book-offer", "dismiss-offer", "remove"])
@pytest.mark.parametrize("role", ROLES)
def test_action_roles(
    frozen_now: Any,
    login: Callable[..., Client],
    one_chair: Any,
    make_course: Callable[..., Any],
    role: str,
    action: str,
) -> None:
    entry = _waiting(make_course)
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_start=TOMORROW)
    response = login(role).post(f"/waitlist/{entry.pk}/{action}/")
    entry.refresh_from_db()
    if role in BOOKERS:
        assert response.status_code == 302
        after = {"book-offer": "booked", "dismiss-offer": "waiting", "remove": "removed"}
        assert entry.status == after[action]
        if action == "dismiss-offer":
            assert entry.offer_start is None
    else:
        assert response.status_code == 403
        assert entry.status == WaitlistStatus.WAITING
        assert entry.offer_start == TOMORROW


def test_another_clinics_entry_is_not_found(
    frozen_now: Any,
    login: Callable[..., Client],
    other_clinic: Any,
    one_chair: Any,
    make_course: Callable[..., Any],
) -> None:
    entry = _waiting(make_course)
    client = login(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    assert client.post(f"/waitlist/{entry.pk}/book-offer/").status_code == 404
    assert client.post(f"/waitlist/{entry.pk}/remove/").status_code == 404
    assert client.post(f"/waitlist/{entry.pk}/dismiss-offer/").status_code == 404
    assert entry.course.patient.last_name not in client.get("/waitlist/").content.decode()


@pytest.fixture
def one_chair(clinic: Any) -> Any:
    return ChairFactory(clinic=clinic, name="Chair 1")


def test_front_desk_adds_a_course_and_sees_its_earliest_start(
    frozen_now: Any,
    login: Callable[..., Client],
    one_chair: Any,
    make_course: Callable[..., Any],
) -> None:
    course = make_course(start=TOMORROW)
    client = login(Role.FRONT_DESK)
    response = client.post(
        "/waitlist/",
        {
            "course": course.pk,
            "time_preference": "after",
            "preferred_time": "16:30",
            "time_flex_minutes": "30",
            "weekdays": ["0", "2"],
            "not_before": "2026-11-30",
        },
    )
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get(course=course)
    assert (entry.time_preference, entry.weekdays) == ("after", 0b101)
    services.waitlist_refresh(entry.clinic_id)  # the on-commit task's work
    page = unescape(client.get("/waitlist/").content.decode())
    assert "Mon 30 Nov 2026" in page
    assert "After 16:30" in page


def test_a_refused_add_says_why(
    frozen_now: Any, login: Callable[..., Client], one_chair: Any, make_course: Callable[..., Any]
) -> None:
    course = make_course(start=TOMORROW)
    response = login(Role.FRONT_DESK).post(
        "/waitlist/",
        {
            "course": course.pk,
            "time_preference": "around",
            "preferred_time": "09:00",
            "time_flex_minutes": "0",
            "weekdays": ["0"],
            "not_before": "2030-01-01",
        },
    )
    assert response.status_code == 400
    assert not WaitlistEntry.objects.exists()


def test_the_waitlist_page_costs_the_same_queries_for_more_entries(
    frozen_now: Any,
    login: Callable[..., Client],
    one_chair: Any,
    make_course: Callable[..., Any],
    django_assert_num_queries: Any,
) -> None:
    client = login(Role.FRONT_DESK)
    _waiting(make_course)
    client.get("/waitlist/")
    with django_assert_num_queries(11) as few:
        assert client.get("/waitlist/").status_code == 200
    for _ in range(4):
        _waiting(make_course)
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get("/waitlist/").status_code == 200


def test_the_board_shows_offers(
    frozen_now: Any, login: Callable[..., Client], one_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course)
    client = login(Role.FRONT_DESK)
    assert "Waitlist offers" not in client.get("/board/").content.decode()
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_start=TOMORROW)
    page = unescape(client.get("/board/").content.decode())
    assert "Waitlist offers (1)" in page
    assert f"{entry.course.patient.last_name} (from Thu 26 Nov)" in page


def test_the_forecast_counts_open_booked_and_wanted_hours(
    frozen_now: Any, clinic: Any, one_chair: Any, make_course: Callable[..., Any]
) -> None:
    """Mon-Fri 07:30-19:00 on one chair: 57.5 h a week; a closure takes a day (11.5 h)
    and a block two hours. A 30-minute course booked daily; a waiting course's demand
    from its earliest start."""
    Closure.objects.create(clinic=clinic, date=dt.date(2026, 12, 2), reason="Staff day")
    ChairBlock.objects.create(
        chair=one_chair,
        starts_at=local_datetime(dt.date(2026, 12, 1), dt.time(12), clinic.tz),
        ends_at=local_datetime(dt.date(2026, 12, 1), dt.time(14), clinic.tz),
        reason="Coil service",
    )
    services.course_schedule(make_course(start=dt.date(2026, 11, 30), at=dt.time(8)))
    entry = _waiting(make_course)
    services.waitlist_refresh(clinic.pk)
    entry.refresh_from_db()
    assert entry.fit_start == TOMORROW

    forecast = capacity_forecast(clinic, MONDAY, weeks=3)

    first, second, third = forecast.weeks
    assert first.open_hours == 57.5
    assert second.open_hours == 57.5 - 11.5 - 2
    assert third.open_hours == 57.5
    assert first.booked_hours == 0
    assert second.booked_hours == 3.0  # the mapping hour on Monday, 40 minutes Tue, Thu, Fri
    assert first.waitlist_hours > 0 and second.waitlist_hours > 0
    assert [row.chair for row in second.chairs] == ["Chair 1"]
    assert forecast.waiting == 1 and forecast.without_start == 0


def test_the_forecast_page_draws_the_chart_and_the_tables(
    frozen_now: Any,
    login: Callable[..., Client],
    one_chair: Any,
    make_course: Callable[..., Any],
    django_assert_num_queries: Any,
) -> None:
    client = login(Role.FRONT_DESK)
    _waiting(make_course)
    client.get("/capacity/")
    # The calendar is one statement on PostgreSQL, three on SQLite (no patient read).
    with django_assert_num_queries(18 if connection.vendor == "postgresql" else 20) as few:
        page = client.get("/capacity/").content.decode()
    assert "<svg" in page and 'id="forecast-total"' in page and 'id="forecast-chairs"' in page
    for _ in range(3):
        _waiting(make_course)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/capacity/")


@pytest.mark.parametrize("actor", ["anonymous", "outsider", *ROLES])
def test_forecast_api_roles(
    frozen_now: Any, clinic: Any, other_clinic: Any, staff: Any, api: Any, actor: str
) -> None:
    ChairFactory(clinic=clinic)
    user = None
    if actor == "outsider":
        user = staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    elif actor != "anonymous":
        user = staff(actor)
    response = api(user).get(f"/api/v1/capacity-forecast/?clinic={clinic.pk}")
    expected = {"anonymous": 401, "outsider": 400}.get(actor, 200 if actor in BOOKERS else 403)
    assert response.status_code == expected, response.content
    if expected == 200:
        body = response.json()
        assert len(body["weeks"]) == 12
        assert body["weeks"][0]["monday"] == "2026-11-23"


@pytest.mark.parametrize(
    "query", ["weeks=0", "weeks=27", "week_of=1899-01-01", "week_of=3000-01-01", "week_of=x"]
)
def test_forecast_api_checks_its_range(
    frozen_now: Any, clinic: Any, staff: Any, api: Any, query: str
) -> None:
    response = api(staff(Role.FRONT_DESK)).get(
        f"/api/v1/capacity-forecast/?clinic={clinic.pk}&{query}"
    )
    assert response.status_code == 400
    assert response.json()["code"]


def test_a_membership_of_another_role_elsewhere_gives_nothing_here(
    frozen_now: Any, clinic: Any, other_clinic: Any, api: Any
) -> None:
    technician = MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user
    MembershipFactory(user=technician, clinic=other_clinic, role=Role.FRONT_DESK)
    response = api(technician).get(f"/api/v1/capacity-forecast/?clinic={clinic.pk}")
    assert response.status_code == 403
