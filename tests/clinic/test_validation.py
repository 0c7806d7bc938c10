"""Bad input gets a 4xx naming the field (or a code), never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from clinic.models import Patient, Role
from clinic.patient_text import validate_display_name
from tests.factories import ChairFactory, PatientFactory


@pytest.fixture
def admin_client(staff: Any, api: Any) -> Any:
    return api(staff(Role.CLINIC_ADMIN))


@pytest.fixture
def desk_client(staff: Any, api: Any) -> Any:
    """Front desk registers patients (clinic admins read them)."""
    return api(staff(Role.FRONT_DESK))


def _patient(in_clinic: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "clinic": in_clinic.pk,
        "mrn": "A-1",
        "first_name": "Ana",
        "last_name": "Lopez",
        "date_of_birth": "1980-01-02",
        "phone": "+1 (718) 555-0142",
        **overrides,
    }


def test_phone_is_stored_in_e164(clinic: Any, desk_client: Any) -> None:
    response = desk_client.post("/api/v1/patients/", _patient(clinic), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "+17185550142"
    assert Patient.objects.get().phone == "+17185550142"


@pytest.mark.parametrize("phone", ["12345", "+1 555 555 5555", "call me", "+44 20 7946 09"])
def test_invalid_phone_names_the_field(clinic: Any, desk_client: Any, phone: str) -> None:
    response = desk_client.post("/api/v1/patients/", _patient(clinic, phone=phone), format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["errors"]


def test_duplicate_mrn_in_same_clinic(clinic: Any, desk_client: Any) -> None:
    PatientFactory(clinic=clinic, mrn="A-1")
    response = desk_client.post("/api/v1/patients/", _patient(clinic), format="json")
    assert response.status_code == 400
    assert "MRN" in response.json()["errors"]["mrn"][0]


def test_same_mrn_in_another_clinic_is_fine(
    clinic: Any, other_clinic: Any, desk_client: Any
) -> None:
    PatientFactory(clinic=other_clinic, mrn="A-1")
    response = desk_client.post("/api/v1/patients/", _patient(clinic), format="json")
    assert response.status_code == 201


def test_consent_needs_contact(clinic: Any, desk_client: Any) -> None:
    payload = _patient(clinic, phone="", sms_consent=True, email_consent=True)
    response = desk_client.post("/api/v1/patients/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"sms_consent", "email_consent"}


def test_invalid_timezone(clinic: Any, admin_client: Any) -> None:
    response = admin_client.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"timezone": "Mars/Olympus_Mons"}, format="json"
    )
    assert response.status_code == 400
    assert "timezone" in response.json()["errors"]


def test_closing_before_opening(clinic: Any, admin_client: Any) -> None:
    hours = [{"weekday": 0, "opens": "19:00", "closes": "07:30"}]
    response = admin_client.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"opening_hours": hours}, format="json"
    )
    assert response.status_code == 400
    assert "closes" in response.json()["errors"]["opening_hours"]["0"]


def test_opening_hours_are_replaced_as_a_whole(clinic: Any, admin_client: Any) -> None:
    hours = [
        {"weekday": 0, "opens": "08:00", "closes": "18:00"},
        {"weekday": 5, "opens": "09:00", "closes": "13:00"},
    ]
    response = admin_client.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"opening_hours": hours}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["opening_hours"] == hours


def test_weekday_twice_is_rejected(clinic: Any, admin_client: Any) -> None:
    hours = [{"weekday": 1, "opens": "08:00", "closes": "12:00"}] * 2
    response = admin_client.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"opening_hours": hours}, format="json"
    )
    assert response.status_code == 400
    assert "opening_hours" in response.json()["errors"]


def test_unknown_role(clinic: Any, admin_client: Any) -> None:
    payload = {
        "username": "x",
        "role": "janitor",
        "clinics": [clinic.pk],
        "email": "x@example.com",
    }
    response = admin_client.post("/api/v1/staff/", payload, format="json")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_staff_password_is_never_set_through_the_api(clinic: Any, admin_client: Any) -> None:
    payload = {
        "username": "x",
        "role": "technician",
        "clinics": [clinic.pk],
        "email": "x@example.com",
        "password": "a long passphrase 42",
    }
    response = admin_client.post("/api/v1/staff/", payload, format="json")
    assert response.status_code == 400
    assert "/accounts/password/reset/" in response.json()["errors"]["password"][0]


def test_duplicate_chair_name(clinic: Any, admin_client: Any) -> None:
    ChairFactory(clinic=clinic, name="Chair 1")
    response = admin_client.post(
        "/api/v1/chairs/", {"clinic": clinic.pk, "name": "Chair 1"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_chair_block_must_end_after_start(clinic: Any, admin_client: Any) -> None:
    chair = ChairFactory(clinic=clinic)
    payload = {
        "chair": chair.pk,
        "starts_at": "2026-12-02T15:00:00Z",
        "ends_at": "2026-12-02T14:00:00Z",
    }
    response = admin_client.post("/api/v1/chair-blocks/", payload, format="json")
    assert response.status_code == 400
    assert "ends_at" in response.json()["errors"]


def test_malformed_json(desk_client: Any) -> None:
    response = desk_client.generic(
        "POST", "/api/v1/patients/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_wrong_media_type(desk_client: Any) -> None:
    response = desk_client.generic("POST", "/api/v1/patients/", "a=b", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "overrides",
    [
        {"date_of_birth": "yesterday"},
        {"clinic": "one"},
        {"clinic": 999999},
        {"sms_consent": "perhaps"},
        {"mrn": ["a", "list"]},
        {"first_name": {"nested": True}},
        {"email": "not-an-email"},
    ],
)
def test_wrong_types_are_400(clinic: Any, desk_client: Any, overrides: dict[str, Any]) -> None:
    response = desk_client.post("/api/v1/patients/", _patient(clinic, **overrides), format="json")
    assert response.status_code == 400
    assert set(overrides) <= set(response.json()["errors"])


def test_body_that_is_not_an_object(desk_client: Any) -> None:
    response = desk_client.post("/api/v1/patients/", [1, 2], format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("query", ["?page=abc", "?page=99", "?clinic=abc", "?page_size=-1"])
def test_bad_query_parameters_are_never_500(admin_client: Any, query: str) -> None:
    response = admin_client.get(f"/api/v1/patients/{query}")
    assert 200 <= response.status_code < 500


def test_unknown_api_path_is_json_404(admin_client: Any) -> None:
    response = admin_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_page_size_is_capped(clinic: Any, admin_client: Any) -> None:
    PatientFactory.create_batch(3, clinic=clinic)
    response = admin_client.get("/api/v1/patients/?page_size=100000")
    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_race_on_mrn_is_answered_without_database_text(
    clinic: Any, desk_client: Any, monkeypatch: Any
) -> None:
    """If a concurrent insert wins between the service's check and its own insert, the
    constraint answers; the client sees a field error, not the database's message."""
    from clinic import services

    PatientFactory(clinic=clinic, mrn="A-1")
    original = services.Patient.objects.filter

    def blind_filter(*args: Any, **kwargs: Any) -> Any:
        return original(pk=-1)

    monkeypatch.setattr(services.Patient.objects, "filter", blind_filter)
    response = desk_client.post("/api/v1/patients/", _patient(clinic), format="json")
    assert response.status_code in (400, 409)
    body = response.content.decode()
    assert (
        "INSERT" not in body and "constraint" not in body.lower() and "clinic_patient" not in body
    )


@pytest.mark.parametrize(
    ("item", "missing"),
    [
        ({"weekday": 0}, {"opens", "closes"}),
        ({"opens": "09:00", "closes": "17:00"}, {"weekday"}),
    ],
)
def test_a_patch_still_needs_whole_opening_hours_rows(
    clinic: Any, admin_client: Any, item: dict[str, Any], missing: set[str]
) -> None:
    before = list(clinic.opening_hours.values_list("weekday", "opens", "closes"))
    response = admin_client.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"opening_hours": [item]}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]["opening_hours"]["0"]
    assert set(errors) == missing
    assert all(error == ["This field is required."] for error in errors.values())
    assert list(clinic.opening_hours.values_list("weekday", "opens", "closes")) == before


@pytest.mark.parametrize(
    ("display_name", "code"),
    [
        ("Brooklyn TMS", "disclosing_name"),
        ("NY rTMS Center", "disclosing_name"),
        ("Depression Care Partners", "disclosing_name"),
        ("Park Slope Psychiatry", "disclosing_name"),
        ("Magnetic Health", "disclosing_name"),
        ("Bay Ridge Neuro Care", "disclosing_name"),
        ("Brain Health Partners", "disclosing_name"),
        ("Psych Associates", "disclosing_name"),
        ("Behavioral Health of Queens", "disclosing_name"),
        ("Behavioural Wellness", "disclosing_name"),
        ("Mental Wellness Co", "disclosing_name"),
        ("Mind & Body Clinic", "disclosing_name"),
        ("Mindful Health", "disclosing_name"),
        ("Zoë Wellness", "not_gsm7"),
        ("Park Slope Wellness ✓", "not_gsm7"),
    ],
)
def test_display_name_must_be_neutral_and_fit_a_text(
    clinic: Any, admin_client: Any, display_name: str, code: str
) -> None:
    response = admin_client.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"display_name": display_name}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["display_name"]
    with pytest.raises(ValidationError) as refused:
        validate_display_name(display_name)
    assert refused.value.code == code


@pytest.mark.parametrize(
    "display_name",
    [
        "Atmosphere Wellness",
        "Select Care",
        "Magnolia Health",
        "Café Søren & Co",
        "Reminder Street Clinic",
    ],
)
def test_neutral_display_names_pass(clinic: Any, admin_client: Any, display_name: str) -> None:
    response = admin_client.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"display_name": display_name}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == display_name


@pytest.mark.parametrize("offset", ["%2B23:42", "-20:00", "%2B15:59"])
def test_a_time_with_any_offset_python_reads_is_never_500(
    clinic: Any, admin_client: Any, offset: str
) -> None:
    # A filter kept the offset it was given, and PostgreSQL refuses those past ±15:59
    # (found by the contract test's stateful phase).
    chair = ChairFactory(clinic=clinic)
    response = admin_client.get(
        f"/api/v1/chair-blocks/?chair={chair.pk}&starts_before=1980-02-29T21:29:26.7{offset}"
        f"&ends_after=1980-02-27T21:14:41{offset}"
    )
    assert response.status_code == 200
