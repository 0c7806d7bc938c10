"""The role matrix, endpoint by endpoint: each role, anonymous, another clinic's admin
and a superuser, for list, retrieve, create, update and delete.

The matrix below is the one documented in docs/roles.md; keep both in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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

ALL = frozenset(Role.values)
ADMIN = frozenset({Role.CLINIC_ADMIN})
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Resource:
    path: str
    target: Callable[[Any], Any]
    create: Callable[[Any], dict[str, Any]]
    patch: dict[str, Any]
    read: frozenset[str] = ALL
    create_roles: frozenset[str] = ADMIN
    update_roles: frozenset[str] = ADMIN
    delete_roles: frozenset[str] = ADMIN


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
            "password": "a long passphrase 42",
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
        create_roles=frozenset({Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN}),
        update_roles=frozenset({Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN}),
    ),
}

ACTORS = ["anonymous", "superuser", "outsider", *Role.values]
ACTIONS = ["list", "retrieve", "create", "update", "delete"]


def _actor(name: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any) -> Any:
    if name == "anonymous":
        return None
    if name == "superuser":
        return superuser
    if name == "outsider":
        return staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    return staff(name)


def _expected(resource: Resource, actor: str, action: str) -> int:
    success = {"list": 200, "retrieve": 200, "create": 201, "update": 200, "delete": 204}
    if actor == "anonymous":
        return 401
    if actor == "superuser":
        return success[action]
    if actor == "outsider":
        if action == "list":
            return 200
        if action == "create":
            # The other clinic's id is answered like an id that does not exist.
            return 403 if resource.create_roles == NOBODY else 400
        return 404
    allowed = {
        "list": resource.read,
        "retrieve": resource.read,
        "create": resource.create_roles,
        "update": resource.update_roles,
        "delete": resource.delete_roles,
    }[action]
    return success[action] if actor in allowed else 403


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
    resource = RESOURCES[resource_name]
    user = _actor(actor, clinic, other_clinic, staff, superuser)
    target = resource.target(clinic)
    client = api(user)
    detail = f"{resource.path}{target.pk}/"

    if action == "list":
        response = client.get(resource.path)
    elif action == "retrieve":
        response = client.get(detail)
    elif action == "create":
        response = client.post(resource.path, resource.create(clinic), format="json")
    elif action == "update":
        response = client.patch(detail, resource.patch, format="json")
    else:
        response = client.delete(detail)

    expected = _expected(resource, actor, action)
    assert response.status_code == expected, response.content
    if expected >= 400 and response.status_code != 400:
        assert "code" in response.json()
    if action == "list" and expected == 200:
        ids = [row["id"] for row in response.json()["results"]]
        assert (target.pk in ids) == (actor != "outsider")
