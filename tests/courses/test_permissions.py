"""Role matrix of the courses endpoints (docs/roles.md)."""

from __future__ import annotations

from typing import Any

import pytest

from clinic.models import Role
from courses.models import Screening
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    MembershipFactory,
    MotorThresholdFactory,
    PatientFactory,
    ProtocolFactory,
    ScreeningFactory,
    cleared_screening,
)
from tests.permissions import (
    ACTIONS,
    ACTORS,
    ALL,
    METHOD_NOT_ALLOWED,
    NOBODY,
    Action,
    Resource,
    run_action,
    run_cell,
)

CLINICIANS = frozenset({Role.PSYCHIATRIST, Role.TECHNICIAN})
PSYCHIATRIST = frozenset({Role.PSYCHIATRIST})


def _course(clinic: Any) -> Any:
    return CourseFactory(patient=PatientFactory(clinic=clinic))


def _psychiatrist(clinic: Any) -> Any:
    return MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user


RESOURCES = {
    "protocols": Resource(
        path="/api/v1/protocols/",
        target=lambda clinic: ProtocolFactory(clinic=clinic),
        create=lambda clinic: {
            "clinic": clinic.pk,
            "code": "house-10hz",
            "name": "House 10 Hz",
            "slot_minutes": 30,
            "mapping_minutes": 60,
            "sessions_total": 20,
            "phases": [{"sessions": 20, "per_week": 5}],
            "sessions_per_day": 1,
            "min_gap_minutes": 0,
            "stimulation": "10 Hz",
            "frequency_hz": 10,
            "pulses_per_session": 3000,
            "intensity_pct_mt": 120,
            "treatment_minutes": 25,
        },
        patch={"name": "Renamed"},
        delete_roles=NOBODY,
    ),
    "screenings": Resource(
        path="/api/v1/screenings/",
        target=lambda clinic: ScreeningFactory(patient=PatientFactory(clinic=clinic)),
        create=lambda clinic: {
            "patient": PatientFactory(clinic=clinic).pk,
            "failed_trials": [
                {"drug": "sertraline", "dose": "100 mg", "weeks": 8, "outcome": "no_response"}
            ],
            "answers": {"seizure_history": False, "current_medications": "sertraline"},
        },
        patch={"answers": {"pregnancy": True}},
        create_roles=CLINICIANS,
        update_roles=CLINICIANS,
        delete_roles=NOBODY,
    ),
    "courses": Resource(
        path="/api/v1/courses/",
        target=_course,
        create=lambda clinic: {
            "patient": PatientFactory(clinic=clinic).pk,
            "psychiatrist": _psychiatrist(clinic).pk,
            "protocol": "10hz-standard",
            "indication": "mdd",
            "start_date": "2026-12-07",
            "preferred_time": "09:30",
        },
        patch={"preferred_time": "10:15"},
        create_roles=frozenset({Role.PSYCHIATRIST, Role.FRONT_DESK, Role.CLINIC_ADMIN}),
        update_roles=frozenset({Role.PSYCHIATRIST, Role.FRONT_DESK}),
        delete_roles=NOBODY,
    ),
    "assessments": Resource(
        path="/api/v1/assessments/",
        target=lambda clinic: AssessmentFactory(course=_course(clinic)),
        create=lambda clinic: {
            "course": _course(clinic).pk,
            "instrument": "phq9",
            "items": [2, 2, 2, 2, 2, 2, 2, 2, 0],
            "administered_on": "2026-11-27",
        },
        patch={"score": 3},
        create_roles=CLINICIANS,
        update_roles=METHOD_NOT_ALLOWED,
        delete_roles=METHOD_NOT_ALLOWED,
    ),
    "motor-thresholds": Resource(
        path="/api/v1/motor-thresholds/",
        target=lambda clinic: MotorThresholdFactory(course=_course(clinic)),
        create=lambda clinic: {
            "course": _course(clinic).pk,
            "measured_on": "2026-11-30",
            "machine_output_pct": 52,
            "method": "emg",
        },
        patch={"notes": "x"},
        read=frozenset({Role.PSYCHIATRIST, Role.TECHNICIAN, Role.CLINIC_ADMIN}),
        create_roles=CLINICIANS,
        update_roles=METHOD_NOT_ALLOWED,
        delete_roles=METHOD_NOT_ALLOWED,
    ),
}


def _fixtures(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("resource_name", list(RESOURCES))
def test_role_matrix(
    resource_name: str,
    actor: str,
    action: str,
    clinic: Any,
    other_clinic: Any,
    staff: Any,
    superuser: Any,
    api: Any,
) -> None:
    fixtures = _fixtures(
        clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
    )
    run_cell(RESOURCES[resource_name], actor, action, fixtures)


def _cleared_course(clinic: Any) -> Any:
    course = _course(clinic)
    cleared_screening(course.patient, by=course.psychiatrist)
    return course


def _flagged_assessment(clinic: Any) -> Any:
    from courses import services

    course = _course(clinic)
    assessment = services.assessment_record(
        course,
        instrument="phq9",
        items=[2, 2, 2, 2, 2, 2, 2, 2, 1],
        administered_on=course.start_date,
        by=course.psychiatrist,
    )
    return assessment.safety_flag


def _screening_ready(clinic: Any) -> Screening:
    return ScreeningFactory(patient=PatientFactory(clinic=clinic))


ACTIONS_MATRIX = {
    "screening clear": Action(
        "post", lambda s: f"/api/v1/screenings/{s.pk}/clear/", _screening_ready, {}, PSYCHIATRIST
    ),
    "screening decline": Action(
        "post",
        lambda s: f"/api/v1/screenings/{s.pk}/decline/",
        _screening_ready,
        {"reason": "Unstable epilepsy"},
        PSYCHIATRIST,
    ),
    "course activate": Action(
        "post", lambda c: f"/api/v1/courses/{c.pk}/activate/", _cleared_course, {}, PSYCHIATRIST
    ),
    "course discontinue": Action(
        "post",
        lambda c: f"/api/v1/courses/{c.pk}/discontinue/",
        _course,
        {"reason": "Moved away"},
        PSYCHIATRIST,
    ),
    "course authorizations list": Action(
        "get", lambda c: f"/api/v1/courses/{c.pk}/authorizations/", _course, {}, ALL
    ),
    "course authorization add": Action(
        "post",
        lambda c: f"/api/v1/courses/{c.pk}/authorizations/",
        _course,
        {
            "payer": "Aetna",
            "number": "A-1",
            "sessions_authorized": 36,
            "valid_from": "2026-11-30",
            "valid_until": "2027-02-28",
        },
        frozenset({Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN}),
        success=201,
    ),
    "course outcome": Action(
        "get", lambda c: f"/api/v1/courses/{c.pk}/outcome/", _course, {}, CLINICIANS
    ),
    "safety flag list": Action(
        "get", lambda f: f"/api/v1/safety-flags/{f.pk}/", _flagged_assessment, {}, ALL
    ),
    "safety flag acknowledge": Action(
        "post",
        lambda f: f"/api/v1/safety-flags/{f.pk}/acknowledge/",
        _flagged_assessment,
        {},
        PSYCHIATRIST,
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


OUTCOME_READERS = frozenset({Role.PSYCHIATRIST, Role.CLINIC_ADMIN})


@pytest.mark.parametrize("actor", ACTORS)
def test_outcome_summary_roles(
    actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    from tests.permissions import make_actor

    user = make_actor(actor, other_clinic, staff, superuser)
    response = api(user).get(
        "/api/v1/outcomes/",
        {"clinic": clinic.pk, "date_from": "2026-01-01", "date_to": "2026-12-31"},
    )
    expected = {
        "anonymous": 401,
        "superuser": 200,
        "outsider": 400,  # the clinic id is unknown to them
    }.get(actor, 200 if actor in OUTCOME_READERS else 403)
    assert response.status_code == expected, response.content


def test_admin_sees_the_catalog_but_cannot_change_it(staff: Any, api: Any) -> None:
    client = api(staff(Role.CLINIC_ADMIN))
    catalog = client.get("/api/v1/protocols/?code=10hz-standard").json()["results"]
    assert len(catalog) == 1 and catalog[0]["clinic"] is None
    response = client.patch(f"/api/v1/protocols/{catalog[0]['id']}/", {"name": "x"}, format="json")
    assert response.status_code == 403


def test_other_clinics_protocols_are_invisible(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    ProtocolFactory(clinic=other_clinic, code="theirs")
    codes = {row["code"] for row in api(staff()).get("/api/v1/protocols/").json()["results"]}
    assert "theirs" not in codes
    assert {"10hz-standard", "10hz-dash", "itbs", "deep-tms-h1", "snt-accelerated"} <= codes
