# ruff: noqa: F811  (the fixtures imported from tests/scheduling/conftest.py)
"""One oversized course must not take the API down (issue 15, item 5).

The attack as sent: a protocol of 200 phases of 500 sessions was accepted, scheduling
it booked 100,000 sessions past the worker's timeout, and the clinic's session list
timed out for everyone after. Protocols are bounded (courses.protocol_bounds) in the
API, the service and the database; the planner refuses a larger one saved before the
bounds; and the session list costs the same queries whatever one course holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from courses.models import Protocol, ProtocolPhase
from courses.protocol_bounds import MAX_PHASES, MAX_SESSIONS_PER_DAY, MAX_SESSIONS_TOTAL
from scheduling.models import Session
from tests.factories import ProtocolFactory, SessionFactory
from tests.scheduling.conftest import chairs, frozen_now, make_course, psychiatrist  # noqa: F401

pytestmark = pytest.mark.usefixtures("frozen_now")  # Wednesday 25 November 2026


@pytest.fixture
def admin(api_as: Callable[..., Any]) -> Any:
    return api_as(Role.CLINIC_ADMIN)


def _protocol(clinic: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "clinic": clinic.pk,
        "code": "house",
        "name": "House protocol",
        "slot_minutes": 30,
        "mapping_minutes": 60,
        "phases": [{"sessions": 30, "per_week": 5}],
        "sessions_per_day": 1,
        "min_gap_minutes": 0,
        "stimulation": "10 Hz",
        "frequency_hz": 10,
        "pulses_per_session": 3000,
        "intensity_pct_mt": 120,
        "treatment_minutes": 25,
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"phases": [{"sessions": 500, "per_week": 7}] * 200}, "phases", id="200x500"),
        pytest.param({"phases": [{"sessions": 10, "per_week": 5}] * 9}, "phases", id="9-phases"),
        pytest.param({"phases": [{"sessions": 101, "per_week": 5}]}, "phases", id="101-in-one"),
        pytest.param({"sessions_per_day": 11, "min_gap_minutes": 50}, "sessions_per_day", id="11"),
        pytest.param({"slot_minutes": 10_000, "mapping_minutes": 10_000}, "slot_minutes", id="m"),
        pytest.param({"min_gap_minutes": 1_000}, "min_gap_minutes", id="gap"),
    ],
)
def test_an_oversized_protocol_is_refused(
    clinic: Any, admin: Any, overrides: dict[str, Any], field: str
) -> None:
    response = admin.post("/api/v1/protocols/", _protocol(clinic, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Protocol.objects.filter(code="house").exists()


def test_phases_adding_up_past_the_total_are_refused(clinic: Any, admin: Any) -> None:
    phases = [{"sessions": 50, "per_week": 5}] * 3
    response = admin.post("/api/v1/protocols/", _protocol(clinic, phases=phases), format="json")
    assert response.status_code == 400
    assert response.data["errors"]["phases"][0].code == "too_many_sessions"
    grown = admin.post("/api/v1/protocols/", _protocol(clinic), format="json")
    assert grown.status_code == 201
    patched = admin.patch(f"/api/v1/protocols/{grown.json()['id']}/", {"phases": phases}, "json")
    assert patched.status_code == 400
    assert ProtocolPhase.objects.filter(protocol_id=grown.json()["id"]).count() == 1


def test_the_largest_allowed_protocol_is_accepted(clinic: Any, admin: Any) -> None:
    phases = [{"sessions": 50, "per_week": 5}, {"sessions": 50, "per_week": 2}]
    body = _protocol(clinic, phases=phases, sessions_per_day=MAX_SESSIONS_PER_DAY)
    body["min_gap_minutes"] = 50
    response = admin.post("/api/v1/protocols/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["sessions_total"] == MAX_SESSIONS_TOTAL


def test_the_seeded_catalog_is_within_the_bounds(db: None) -> None:
    for protocol in Protocol.objects.filter(clinic=None).prefetch_related("phases"):
        phases = list(protocol.phases.all())
        assert len(phases) <= MAX_PHASES
        assert sum(phase.sessions for phase in phases) <= MAX_SESSIONS_TOTAL


def _phase(protocol: Any, order: int, sessions: int) -> Any:
    return ProtocolPhase.objects.create(
        protocol=protocol, order=order, sessions=sessions, per_week=5
    )


def _update(protocol: Any, **fields: Any) -> Any:
    return Protocol.objects.filter(pk=protocol.pk).update(**fields)


BEYOND_BOUNDS: dict[str, Callable[[Any], Any]] = {
    "500-in-a-phase": lambda p: _phase(p, 2, 500),
    "a-9th-phase": lambda p: _phase(p, 9, 5),
    "11-a-day": lambda p: _update(p, sessions_per_day=11, min_gap_minutes=50),
    "1000-minutes": lambda p: _update(p, slot_minutes=1000, mapping_minutes=1000),
}


@pytest.mark.parametrize("write", list(BEYOND_BOUNDS))
def test_the_database_holds_the_bounds(clinic: Any, write: str) -> None:
    protocol = ProtocolFactory(clinic=clinic)
    with pytest.raises(IntegrityError), transaction.atomic():
        BEYOND_BOUNDS[write](protocol)


def test_the_planner_refuses_a_protocol_saved_before_the_bounds(
    clinic: Any, make_course: Callable[..., Any], chairs: Any, api_as: Callable[..., Any]
) -> None:
    """Eight phases of 100 each pass the database's per-row checks; the total does not."""
    protocol = ProtocolFactory(clinic=clinic, phases=[(100, 5)] * MAX_PHASES)
    course = make_course()
    type(course).objects.filter(pk=course.pk).update(protocol=protocol)
    response = api_as(Role.FRONT_DESK).post(f"/api/v1/courses/{course.pk}/schedule/", {}, "json")
    assert response.status_code == 400, response.content
    assert response.data["errors"]["phases"][0].code == "too_many_sessions"
    assert not Session.objects.filter(course=course).exists()


def test_the_session_list_costs_the_same_whatever_one_course_holds(
    clinic: Any, make_course: Callable[..., Any], chairs: Any, api_as: Callable[..., Any]
) -> None:
    desk = api_as(Role.FRONT_DESK)
    course = make_course()
    start = dt.datetime(2027, 1, 4, 14, 0, tzinfo=dt.UTC)

    def add(count: int, offset: int) -> None:
        for day in range(offset, offset + count):
            SessionFactory(course=course, chair=chairs[0], starts_at=start + dt.timedelta(days=day))

    def listed() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = desk.get("/api/v1/sessions/", {"clinic": clinic.pk, "page_size": 20})
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    add(1, 0)
    few, _ = listed()
    add(MAX_SESSIONS_TOTAL, 1)
    many, page = listed()
    assert many == few
    assert page == 20
    day = desk.get("/api/v1/sessions/", {"clinic": clinic.pk, "date": "2027-01-05"})
    assert [row["starts_at"][:10] for row in day.json()["results"]] == ["2027-01-05"]
