"""Shared machinery for the role-matrix tests (see docs/roles.md).

Each resource names who may list/retrieve, create, update and delete; each action
names who may call it. The tests run every cell for each role, anonymous, a clinic
admin of another clinic, and a superuser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clinic.models import Role

ALL = frozenset(Role.values)
ADMIN = frozenset({Role.CLINIC_ADMIN})
NOBODY: frozenset[str] = frozenset()
METHOD_NOT_ALLOWED = None  # the route does not offer the action at all

ACTORS = ["anonymous", "superuser", "outsider", *Role.values]
ACTIONS = ["list", "retrieve", "create", "update", "delete"]
SUCCESS = {"list": 200, "retrieve": 200, "create": 201, "update": 200, "delete": 204}


@dataclass(frozen=True)
class Resource:
    path: str
    target: Callable[[Any], Any]
    create: Callable[[Any], dict[str, Any]]
    patch: dict[str, Any]
    read: frozenset[str] = ALL
    create_roles: frozenset[str] = ADMIN
    update_roles: frozenset[str] | None = ADMIN
    delete_roles: frozenset[str] | None = ADMIN
    # Status for an outsider's create: the clinic reference they send is unknown to them.
    outsider_create: int = 400


@dataclass(frozen=True)
class Action:
    method: str
    path: Callable[[Any], str]  # from the target object
    target: Callable[[Any], Any]
    body: dict[str, Any]
    roles: frozenset[str]
    success: int = 200


def make_actor(name: str, other_clinic: Any, staff: Any, superuser: Any) -> Any:
    if name == "anonymous":
        return None
    if name == "superuser":
        return superuser
    if name == "outsider":
        return staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    return staff(name)


def expected_status(resource: Resource, actor: str, action: str) -> int:
    allowed = {
        "list": resource.read,
        "retrieve": resource.read,
        "create": resource.create_roles,
        "update": resource.update_roles,
        "delete": resource.delete_roles,
    }[action]
    if actor == "anonymous":
        return 401
    if allowed is METHOD_NOT_ALLOWED:
        return 405
    if actor == "superuser":
        return SUCCESS[action]
    if actor == "outsider":
        if action == "list":
            return 200
        if action == "create":
            # The outsider is a clinic admin elsewhere: a role that may not create here
            # at all is refused outright; otherwise the clinic they name is unknown.
            if Role.CLINIC_ADMIN not in resource.create_roles:
                return 403
            return resource.outsider_create
        return 404
    return SUCCESS[action] if actor in allowed else 403


def run_cell(resource: Resource, actor: str, action: str, fixtures: dict[str, Any]) -> None:
    user = make_actor(actor, fixtures["other_clinic"], fixtures["staff"], fixtures["superuser"])
    target = resource.target(fixtures["clinic"])
    client = fixtures["api"](user)
    detail = f"{resource.path}{target.pk}/"
    if action == "list":
        response = client.get(resource.path)
    elif action == "retrieve":
        response = client.get(detail)
    elif action == "create":
        response = client.post(resource.path, resource.create(fixtures["clinic"]), format="json")
    elif action == "update":
        response = client.patch(detail, resource.patch, format="json")
    else:
        response = client.delete(detail)

    expected = expected_status(resource, actor, action)
    assert response.status_code == expected, response.content
    if expected >= 400 and expected != 400:
        assert "code" in response.json()
    if action == "list" and expected == 200:
        ids = [row["id"] for row in response.json()["results"]]
        assert (target.pk in ids) == (actor != "outsider")


def action_expected(action: Action, actor: str) -> int:
    if actor == "anonymous":
        return 401
    if actor == "outsider":
        return 404
    if actor == "superuser" or actor in action.roles:
        return action.success
    return 403


def run_action(action: Action, actor: str, fixtures: dict[str, Any]) -> None:
    user = make_actor(actor, fixtures["other_clinic"], fixtures["staff"], fixtures["superuser"])
    target = action.target(fixtures["clinic"])
    client = fixtures["api"](user)
    response = getattr(client, action.method)(action.path(target), action.body, format="json")
    assert response.status_code == action_expected(action, actor), response.content
