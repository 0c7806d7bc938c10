"""Role matrix of the scheduling endpoints (docs/roles.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clinic.models import Role
from tests.factories import (
    ChairFactory,
    ClosureFactory,
    CourseFactory,
    PatientFactory,
    SessionFactory,
    cleared_screening,
)
from tests.permissions import (
    ACTIONS,
    ACTORS,
    ALL,
    METHOD_NOT_ALLOWED,
    Action,
    Resource,
    make_actor,
    run_action,
    run_cell,
)

BOOKERS = frozenset({Role.FRONT_DESK, Role.CLINIC_ADMIN})
PRESCRIBERS = frozenset({Role.PSYCHIATRIST})
# A Monday far enough ahead that bookings are never in the past.
FUTURE_MONDAY = dt.date(2027, 6, 7)


def _cleared_course(clinic: Any, **fields: Any) -> Any:
    course = CourseFactory(patient=PatientFactory(clinic=clinic), **fields)
    cleared_screening(course.patient, by=course.psychiatrist)
    return course


def _session(clinic: Any, **fields: Any) -> Any:
    return SessionFactory(course=_cleared_course(clinic), **fields)


def _started_session(clinic: Any) -> Any:
    """Began ten minutes ago (only a started session can be marked missed)."""
    return _session(clinic, starts_at=timezone.now() - dt.timedelta(minutes=10))


RESOURCES = {
    "sessions": Resource(
        path="/api/v1/sessions/",
        target=_session,
        create=lambda clinic: {
            "course": _cleared_course(clinic).pk,
            "chair": ChairFactory(clinic=clinic).pk,
            "starts_at": "2027-06-08T10:00:00-04:00",
        },
        patch={"starts_at": "2027-06-10T11:00:00-04:00"},
        create_roles=BOOKERS,
        update_roles=BOOKERS,
        delete_roles=METHOD_NOT_ALLOWED,
    ),
}


def _fixtures(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", ACTORS)
def test_session_role_matrix(
    actor: str, action: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    fixtures = _fixtures(
        clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
    )
    run_cell(RESOURCES["sessions"], actor, action, fixtures)


def _checked_in(clinic: Any) -> Any:
    """Checked in and started ten minutes ago (only a started session is completed)."""
    return _session(
        clinic, status="checked_in", starts_at=timezone.now() - dt.timedelta(minutes=10)
    )


def _checked_in_just_now(clinic: Any) -> Any:
    """Checked in a moment ago: a mark of the clinic's today, which can be undone."""
    return _session(
        clinic,
        status="checked_in",
        starts_at=timezone.now() + dt.timedelta(minutes=10),
        checked_in_at=timezone.now(),
    )


def _due_session(clinic: Any) -> Any:
    """Starts in half an hour: open for check-in (at most an hour before, by default)."""
    return _session(clinic, starts_at=timezone.now() + dt.timedelta(minutes=30))


def _schedulable(clinic: Any) -> Any:
    ChairFactory(clinic=clinic)
    return _cleared_course(clinic, start_date=FUTURE_MONDAY)


def _closure_with_session(clinic: Any) -> Any:
    course = _cleared_course(clinic, start_date=FUTURE_MONDAY)
    starts_at = dt.datetime(2027, 6, 8, 14, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in New York
    SessionFactory(course=course, starts_at=starts_at)
    return ClosureFactory(clinic=clinic, date=dt.date(2027, 6, 8))


RECORD = {
    "pulses_delivered": 3000,
    "intensity_pct_mt": 120,
    "coil_position": "5.5 cm anterior",
    "side_effects": ["headache"],
}

ACTIONS_MATRIX = {
    "check in": Action(
        "post",
        lambda s: f"/api/v1/sessions/{s.pk}/check-in/",
        _due_session,
        {},
        frozenset({Role.FRONT_DESK, Role.TECHNICIAN}),
    ),
    "complete": Action(
        "post",
        lambda s: f"/api/v1/sessions/{s.pk}/complete/",
        _checked_in,
        RECORD,
        frozenset({Role.TECHNICIAN, Role.PSYCHIATRIST}),
    ),
    "cancel": Action(
        "post", lambda s: f"/api/v1/sessions/{s.pk}/cancel/", _session, {"reason": "ill"}, BOOKERS
    ),
    "mark missed": Action(
        "post",
        lambda s: f"/api/v1/sessions/{s.pk}/mark-missed/",
        _started_session,
        {},
        frozenset({Role.FRONT_DESK, Role.TECHNICIAN}),
    ),
    "undo": Action(
        "post",
        lambda s: f"/api/v1/sessions/{s.pk}/undo/",
        _checked_in_just_now,
        {"reason": "checked in the wrong patient"},
        BOOKERS,
    ),
    "schedule course": Action(
        "post", lambda c: f"/api/v1/courses/{c.pk}/schedule/", _schedulable, {}, BOOKERS, 201
    ),
    "lengthen course": Action(
        "post",
        lambda c: f"/api/v1/courses/{c.pk}/lengthen/",
        _schedulable,
        {"sessions": 2, "reason": "Late response"},
        PRESCRIBERS,
        201,
    ),
    "switch protocol": Action(
        "post",
        lambda c: f"/api/v1/courses/{c.pk}/switch-protocol/",
        _schedulable,
        {"protocol": "itbs", "reason": "Shorter visits"},
        PRESCRIBERS,
        201,
    ),
    "course progress": Action(
        "get", lambda c: f"/api/v1/courses/{c.pk}/progress/", _cleared_course, {}, ALL
    ),
    "closure affected sessions": Action(
        "get",
        lambda c: f"/api/v1/closures/{c.pk}/affected-sessions/",
        _closure_with_session,
        {},
        ALL,
    ),
    "closure rebook": Action(
        "post", lambda c: f"/api/v1/closures/{c.pk}/rebook/", _closure_with_session, {}, BOOKERS
    ),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", list(ACTIONS_MATRIX))
def test_action_matrix(
    name: str, actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    fixtures = _fixtures(
        clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
    )
    run_action(ACTIONS_MATRIX[name], actor, fixtures)


@pytest.mark.parametrize("path", ["/api/v1/board/", "/api/v1/availability/"])
@pytest.mark.parametrize("actor", ACTORS)
def test_day_views_are_open_to_every_role_of_the_clinic(
    path: str, actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    ChairFactory(clinic=clinic)
    user = make_actor(actor, other_clinic, staff, superuser)
    response = api(user).get(path, {"clinic": clinic.pk, "date": "2027-06-07"})
    expected = {"anonymous": 401, "outsider": 400}.get(actor, 200)
    assert response.status_code == expected, response.content
