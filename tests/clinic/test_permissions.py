"""The role matrix, endpoint by endpoint: each role, anonymous, another clinic's admin
and a superuser, for list, retrieve, create, update and delete.

The matrix below is the one documented in docs/roles.md; keep both in step.
"""

from __future__ import annotations

from typing import Any

import pytest

from clinic.models import Role
from tests.factories import (
    ChairBlockFactory,
    ChairFactory,
    ClosureFactory,
    MembershipFactory,
    PatientFactory,
)
from tests.permissions import ACTIONS, ACTORS, NOBODY, Resource, run_cell


def _staff_target(clinic: Any) -> Any:
    return MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user


RESOURCES = {
    "clinics": Resource(
        path="/api/v1/clinics/",
        target=lambda clinic: clinic,
        create=lambda clinic: {
            "name": "Harlem",
            "slug": "harlem",
            "timezone": "America/New_York",
            "display_name": "Harlem Wellness",
            "phone": "(212) 555-0101",
        },
        patch={"display_name": "Brooklyn Wellness"},
        create_roles=NOBODY,
        delete_roles=NOBODY,
    ),
    "closures": Resource(
        path="/api/v1/closures/",
        target=lambda clinic: ClosureFactory(clinic=clinic),
        create=lambda clinic: {"clinic": clinic.pk, "date": "2027-01-15", "reason": "Training day"},
        patch={"reason": "Snow"},
    ),
    "chairs": Resource(
        path="/api/v1/chairs/",
        target=lambda clinic: ChairFactory(clinic=clinic),
        create=lambda clinic: {"clinic": clinic.pk, "name": "Chair X", "device": "NeuroStar"},
        patch={"active": False},
    ),
    "chair-blocks": Resource(
        path="/api/v1/chair-blocks/",
        target=lambda clinic: ChairBlockFactory(chair=ChairFactory(clinic=clinic)),
        create=lambda clinic: {
            "chair": ChairFactory(clinic=clinic).pk,
            "starts_at": "2026-12-02T14:00:00Z",
            "ends_at": "2026-12-02T15:00:00Z",
            "reason": "Coil check",
        },
        patch={"reason": "Calibration"},
        create_roles=frozenset({Role.CLINIC_ADMIN, Role.TECHNICIAN}),
        update_roles=frozenset({Role.CLINIC_ADMIN, Role.TECHNICIAN}),
        delete_roles=frozenset({Role.CLINIC_ADMIN, Role.TECHNICIAN}),
    ),
    "staff": Resource(
        path="/api/v1/staff/",
        target=_staff_target,
        create=lambda clinic: {
            "username": "newtech",
            "first_name": "New",
            "last_name": "Tech",
            "role": Role.TECHNICIAN,
            "clinics": [clinic.pk],
            "email": "newtech@example.com",
        },
        patch={"first_name": "Renamed"},
    ),
    "patients": Resource(
        path="/api/v1/patients/",
        target=lambda clinic: PatientFactory(clinic=clinic),
        create=lambda clinic: {
            "clinic": clinic.pk,
            "mrn": "NEW-1",
            "first_name": "Nora",
            "last_name": "Quinn",
            "date_of_birth": "1979-03-02",
            "phone": "718-555-0142",
        },
        patch={"email": "nora@example.com"},
        # Clinic admins read patients; front desk and psychiatrists register them.
        create_roles=frozenset({Role.FRONT_DESK, Role.PSYCHIATRIST}),
        update_roles=frozenset({Role.FRONT_DESK, Role.PSYCHIATRIST}),
    ),
}


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
    fixtures = {
        "clinic": clinic,
        "other_clinic": other_clinic,
        "staff": staff,
        "superuser": superuser,
        "api": api,
    }
    run_cell(RESOURCES[resource_name], actor, action, fixtures)
