"""Role matrix of /fhir/R4/ (docs/roles.md, "FHIR R4"): for each resource type, each
role reads and searches what its capability allows (403 otherwise), anonymous gets 401,
another clinic's admin gets 404 for a row and an empty search, a superuser reads all.
Every answer, refusals included, is a valid FHIR resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clinic.capabilities import Capability, roles_for
from clinic.models import Role
from interop.types import TYPES
from tests.interop.conftest import Record, make_record
from tests.interop.fhir import fhir_json, outcome_code
from tests.permissions import ACTORS, make_actor

# Which row of the record each type is read by.
TARGETS: dict[str, Callable[[Record], Any]] = {
    "Patient": lambda r: r.patient.pk,
    "Practitioner": lambda r: r.technician.pk,
    "Location": lambda r: r.patient.clinic_id,
    "Device": lambda r: r.delivered.chair_id,
    "Appointment": lambda r: r.booked.pk,
    "Procedure": lambda r: r.delivered.pk,
    "Observation": lambda r: r.phq9.pk,
    "CarePlan": lambda r: r.course.pk,
}
EXPECTED_CAPABILITY = {
    "Patient": Capability.READ_CLINIC_RECORDS,
    "Practitioner": Capability.READ_CLINIC_RECORDS,
    "Location": Capability.READ_CLINIC_RECORDS,
    "Device": Capability.READ_CLINIC_RECORDS,
    "Appointment": Capability.READ_CLINIC_RECORDS,
    "CarePlan": Capability.READ_CLINIC_RECORDS,
    "Observation": Capability.READ_SCORES,
    "Procedure": Capability.READ_CLINICAL_DETAIL,
}


def test_every_type_is_in_the_matrix() -> None:
    assert set(TARGETS) == set(TYPES) == set(EXPECTED_CAPABILITY)
    assert {name: spec.capability for name, spec in TYPES.items()} == EXPECTED_CAPABILITY


def test_front_desk_reads_no_clinical_resource() -> None:
    for name in ("Procedure", "Observation"):
        assert Role.FRONT_DESK not in roles_for(TYPES[name].capability)


def _expected(actor: str, capability: Capability) -> int:
    if actor == "anonymous":
        return 401
    if actor == "outsider":
        return 404
    if actor == "superuser" or actor in roles_for(capability):
        return 200
    return 403


@pytest.fixture
def actors(other_clinic: Any, staff: Any, superuser: Any, api: Any) -> Callable[[str], Any]:
    return lambda actor: api(make_actor(actor, other_clinic, staff, superuser))


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("resource_type", list(TYPES))
def test_read(resource_type: str, actor: str, clinic: Any, actors: Any) -> None:
    record = make_record(clinic)
    response = actors(actor).get(f"/fhir/R4/{resource_type}/{TARGETS[resource_type](record)}")
    expected = _expected(actor, TYPES[resource_type].capability)
    if expected == 200:
        body = fhir_json(response)
        assert body["resourceType"] == resource_type
        assert body["id"] == str(TARGETS[resource_type](record))
    else:
        outcome_code(response, expected)
    if expected == 401:
        assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("resource_type", list(TYPES))
def test_search(resource_type: str, actor: str, clinic: Any, actors: Any) -> None:
    record = make_record(clinic)
    response = actors(actor).get(f"/fhir/R4/{resource_type}")
    capability = TYPES[resource_type].capability
    expected = _expected(actor, capability)
    if actor == "outsider":
        # A clinic admin elsewhere searches their own clinic: nothing of this one shows.
        expected = 200 if Role.CLINIC_ADMIN in roles_for(capability) else 403
    if expected != 200:
        outcome_code(response, expected)
        return
    body = fhir_json(response)
    ids = {entry["resource"]["id"] for entry in body.get("entry", [])}
    assert (str(TARGETS[resource_type](record)) in ids) == (actor != "outsider")


@pytest.mark.parametrize("actor", ACTORS)
def test_everything(actor: str, clinic: Any, actors: Any) -> None:
    record = make_record(clinic)
    response = actors(actor).get(f"/fhir/R4/Patient/{record.patient.pk}/$everything")
    expected = _expected(actor, Capability.READ_CLINIC_RECORDS)
    if expected != 200:
        outcome_code(response, expected)
        return
    kinds = {entry["resource"]["resourceType"] for entry in fhir_json(response)["entry"]}
    assert {"Patient", "Appointment", "CarePlan", "Location", "Device"} <= kinds
    role_may = (lambda c: True) if actor == "superuser" else (lambda c: actor in roles_for(c))
    assert ("Observation" in kinds) == role_may(Capability.READ_SCORES)
    assert ("Procedure" in kinds) == role_may(Capability.READ_CLINICAL_DETAIL)


def test_another_clinics_token_gets_404_for_every_row(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    """Even a psychiatrist elsewhere, whose role would read everything here."""
    record = make_record(clinic)
    client = api(staff(Role.PSYCHIATRIST, in_clinic=other_clinic))
    for resource_type, target in TARGETS.items():
        response = client.get(f"/fhir/R4/{resource_type}/{target(record)}")
        assert outcome_code(response, 404) == "not_found", resource_type
    response = client.get(f"/fhir/R4/Patient/{record.patient.pk}/$everything")
    assert outcome_code(response, 404) == "not_found"


def test_a_practitioner_of_two_clinics_is_seen_from_either(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    from tests.factories import MembershipFactory

    record = make_record(clinic)
    MembershipFactory(user=record.technician, clinic=other_clinic, role=Role.TECHNICIAN)
    client = api(staff(Role.FRONT_DESK, in_clinic=other_clinic))
    fhir_json(client.get(f"/fhir/R4/Practitioner/{record.technician.pk}"))


def test_front_desk_staff_are_no_practitioners(clinic: Any, staff: Any, api: Any) -> None:
    desk = staff(Role.FRONT_DESK)
    client = api(staff(Role.PSYCHIATRIST))
    assert outcome_code(client.get(f"/fhir/R4/Practitioner/{desk.pk}"), 404) == "not_found"


def test_metadata_is_open_and_the_rest_is_not(api: Any, db: None) -> None:
    body = fhir_json(api(None).get("/fhir/R4/metadata"))
    assert body["resourceType"] == "CapabilityStatement"
    response = api(None).get("/fhir/R4/Patient")
    assert outcome_code(response, 401) == "not_authenticated"


def test_docs_roles_md_names_the_capability_each_type_asks_for() -> None:
    from clinic import roles_doc, roles_render

    documented: dict[str, Capability | None] = {}
    for row in roles_doc.FHIR:
        for path in row.paths:
            name = path.split("?")[0].split("/")[3]
            documented[name] = roles_render.cell_capability(row.who)
    assert documented.pop("metadata") is None
    assert documented == {name: spec.capability for name, spec in TYPES.items()}
