from __future__ import annotations

from typing import Any

import pytest

from clinic.models import Role, StaffMembership
from tests.factories import MembershipFactory, PatientFactory


def test_patient_search(clinic: Any, staff: Any, api: Any) -> None:
    ana = PatientFactory(clinic=clinic, first_name="Ana", last_name="Lopez", mrn="X-1")
    PatientFactory(clinic=clinic, first_name="Ana", last_name="Berg", mrn="X-2")
    PatientFactory(clinic=clinic, first_name="Luis", last_name="Lopez", mrn="X-3")
    client = api(staff(Role.FRONT_DESK))

    def ids(query: str) -> set[int]:
        response = client.get("/api/v1/patients/", {"q": query})
        return {row["id"] for row in response.json()["results"]}

    assert ids("ana lopez") == {ana.pk}
    assert len(ids("lop")) == 2
    assert ids("x-1") == {ana.pk}
    assert ids(ana.phone[-7:]) == {ana.pk}


def test_technicians_get_no_contact_details_and_cannot_search_by_phone(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    # A technician here and front desk in another clinic: contact details (and a search
    # by phone) in the other clinic only, as the patient pages do.
    user = staff(Role.TECHNICIAN)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.FRONT_DESK)
    here = PatientFactory(clinic=clinic, phone="+17185550142", email="here@example.com")
    there = PatientFactory(clinic=other_clinic, phone="+17185550143", email="there@example.com")
    client = api(user)
    rows = {row["id"]: row for row in client.get("/api/v1/patients/").json()["results"]}
    assert "phone" not in rows[here.pk] and "email" not in rows[here.pk]
    assert rows[here.pk]["mrn"] == here.mrn
    assert rows[there.pk]["phone"] == there.phone and rows[there.pk]["email"] == there.email
    detail = client.get(f"/api/v1/patients/{here.pk}/").json()
    assert "phone" not in detail and "email" not in detail
    found = client.get("/api/v1/patients/", {"q": "718555014"}).json()["results"]
    assert [row["id"] for row in found] == [there.pk]
    desk = api(staff(Role.FRONT_DESK))
    assert desk.get(f"/api/v1/patients/{here.pk}/").json()["phone"] == here.phone


def test_clinic_filter_narrows_a_multi_clinic_user(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    user = staff(Role.FRONT_DESK)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.FRONT_DESK)
    mine = PatientFactory(clinic=clinic)
    PatientFactory(clinic=other_clinic)
    client = api(user)
    assert client.get("/api/v1/patients/").json()["count"] == 2
    rows = client.get(f"/api/v1/patients/?clinic={clinic.pk}").json()["results"]
    assert [row["id"] for row in rows] == [mine.pk]


def test_role_in_one_clinic_does_not_carry_to_another(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    user = staff(Role.CLINIC_ADMIN)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.TECHNICIAN)
    client = api(user)
    ok = client.post("/api/v1/chairs/", {"clinic": clinic.pk, "name": "A"}, format="json")
    denied = client.post("/api/v1/chairs/", {"clinic": other_clinic.pk, "name": "A"}, format="json")
    assert ok.status_code == 201
    assert denied.status_code == 403


def test_clinic_admin_manages_staff_only_in_their_clinics(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    admin = staff(Role.CLINIC_ADMIN)
    shared = staff(Role.TECHNICIAN)
    MembershipFactory(user=shared, clinic=other_clinic, role=Role.PSYCHIATRIST)
    client = api(admin)

    listed = client.get(f"/api/v1/staff/{shared.pk}/").json()
    assert listed["clinics"] == [clinic.pk]  # the other clinic stays invisible
    assert listed["role"] == Role.TECHNICIAN

    response = client.patch(
        f"/api/v1/staff/{shared.pk}/",
        {"role": Role.FRONT_DESK, "clinics": [clinic.pk]},
        format="json",
    )
    assert response.status_code == 200, response.content
    roles = dict(StaffMembership.objects.filter(user=shared).values_list("clinic_id", "role"))
    assert roles == {clinic.pk: Role.FRONT_DESK, other_clinic.pk: Role.PSYCHIATRIST}

    response = client.post(
        "/api/v1/staff/",
        {
            "username": "sneaky",
            "role": Role.CLINIC_ADMIN,
            "clinics": [other_clinic.pk],
            "email": "sneaky@example.com",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "clinics" in response.json()["errors"]

    # Removing from this clinic leaves the other membership (and the account) alone.
    assert client.delete(f"/api/v1/staff/{shared.pk}/").status_code == 204
    shared.refresh_from_db()
    assert shared.is_active
    assert list(
        StaffMembership.objects.filter(user=shared).values_list("clinic_id", flat=True)
    ) == [other_clinic.pk]


def test_staff_api_never_grants_superuser(clinic: Any, staff: Any, api: Any) -> None:
    client = api(staff(Role.CLINIC_ADMIN))
    response = client.post(
        "/api/v1/staff/",
        {
            "username": "root2",
            "role": Role.FRONT_DESK,
            "clinics": [clinic.pk],
            "email": "root2@example.com",
            "is_superuser": True,
            "is_staff": True,
        },
        format="json",
    )
    assert response.status_code == 201
    from django.contrib.auth import get_user_model

    created = get_user_model().objects.get(username="root2")
    assert not created.is_superuser and not created.is_staff
    # No password until the person chooses one from their emailed link.
    assert not created.has_usable_password()


def test_clinic_delete_with_patients_is_409(clinic: Any, superuser: Any, api: Any) -> None:
    PatientFactory(clinic=clinic)
    response = api(superuser).delete(f"/api/v1/clinics/{clinic.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "in_use"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_patient_cannot_be_moved_to_a_clinic_you_cannot_see(
    method: str, clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    patient = PatientFactory(clinic=clinic)
    payload = {
        "clinic": other_clinic.pk,
        "mrn": patient.mrn,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": "1980-05-17",
    }
    response = getattr(api(staff(Role.FRONT_DESK)), method)(
        f"/api/v1/patients/{patient.pk}/", payload, format="json"
    )
    assert response.status_code == 400
    assert "clinic" in response.json()["errors"]
