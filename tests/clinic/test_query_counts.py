"""List endpoints run a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from tests.factories import (
    ChairBlockFactory,
    ChairFactory,
    ClinicFactory,
    ClosureFactory,
    MembershipFactory,
    PatientFactory,
)

# token+user, memberships, count, page (+ one prefetch for nested rows); a page of
# patients adds the audit trail's one INSERT (the event with its patient links)
LISTS: dict[str, tuple[Callable[[Any], Any], int]] = {
    "/api/v1/patients/": (lambda clinic: PatientFactory(clinic=clinic), 5),
    "/api/v1/chairs/": (lambda clinic: ChairFactory(clinic=clinic), 4),
    "/api/v1/closures/": (lambda clinic: ClosureFactory(clinic=clinic), 4),
    "/api/v1/chair-blocks/": (
        lambda clinic: ChairBlockFactory(chair=ChairFactory(clinic=clinic)),
        4,
    ),
    "/api/v1/staff/": (lambda clinic: MembershipFactory(clinic=clinic), 5),
}


def _queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("path", list(LISTS))
def test_list_query_count_is_fixed(path: str, clinic: Any, staff: Any, api: Any) -> None:
    make, expected = LISTS[path]
    client = api(staff(Role.CLINIC_ADMIN))
    make(clinic)
    few = _queries(client, path)
    for _ in range(12):
        make(clinic)
    many = _queries(client, path)
    assert few == many == expected


def test_clinic_list_query_count_is_fixed(staff: Any, api: Any) -> None:
    user = staff(Role.CLINIC_ADMIN)
    client = api(user)
    few = _queries(client, "/api/v1/clinics/")
    for _ in range(5):
        MembershipFactory(user=user, clinic=ClinicFactory(), role=Role.FRONT_DESK)
    many = _queries(client, "/api/v1/clinics/")
    # token+user, memberships, count, page, opening hours
    assert few == many == 5
