"""After a patient opts out of texts, nobody switches SMS back on with a plain edit: only
the patient's START or a consent they gave in writing, recorded in the ledger with the
form, the day and who recorded it (TCPA)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.models import Role
from notifications.models import ConsentEvent
from tests.factories import ClinicFactory, MembershipFactory, PatientFactory
from tests.notifications.test_webhooks import (
    AUTH_TOKEN,
    INBOUND_URL,
    PATIENT_PHONE,
    inbound,
    messages_in,
    post,
)

NOW = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)  # Wednesday, 12:00 in New York
WRITTEN = {"channel": "sms", "granted": True, "document": "SMS consent form, v3", "given_on": ""}


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> Any:
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(clinic: Any) -> Any:
    return PatientFactory(clinic=clinic, phone=PATIENT_PHONE, sms_consent=True)


def _sms_consent(patient: Any) -> bool:
    patient.refresh_from_db()
    return bool(patient.sms_consent)


def _opt_out(patient: Any) -> None:
    assert messages_in(post(INBOUND_URL, inbound("STOP"))) == 1
    assert _sms_consent(patient) is False


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.PSYCHIATRIST])
def test_after_stop_a_plain_edit_cannot_switch_texts_back_on(
    patient: Any, api_as: Callable[..., APIClient], role: str
) -> None:
    _opt_out(patient)
    response = api_as(role).patch(
        f"/api/v1/patients/{patient.pk}/", {"sms_consent": True}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "opted_out"
    assert _sms_consent(patient) is False
    assert list(ConsentEvent.objects.values_list("granted", flat=True)) == [False]


def test_after_stop_other_fields_and_email_consent_still_change(
    patient: Any, api_as: Callable[..., APIClient]
) -> None:
    _opt_out(patient)
    response = api_as(Role.FRONT_DESK).patch(
        f"/api/v1/patients/{patient.pk}/",
        {"first_name": "Rosa", "email_consent": True},
        format="json",
    )
    assert response.status_code == 200
    assert _sms_consent(patient) is False


def test_a_staff_recorded_opt_out_holds_the_same_way(
    patient: Any, api_as: Callable[..., APIClient]
) -> None:
    """A patient who asks at the desk to get no more texts is an opt-out as well."""
    desk = api_as(Role.FRONT_DESK)
    url = f"/api/v1/patients/{patient.pk}/"
    assert desk.patch(url, {"sms_consent": False}, format="json").status_code == 200
    assert desk.patch(url, {"sms_consent": True}, format="json").status_code == 409


def test_the_patients_start_switches_texts_back_on(patient: Any) -> None:
    _opt_out(patient)
    assert messages_in(post(INBOUND_URL, inbound("START"))) == 1
    assert _sms_consent(patient) is True


def test_written_consent_switches_texts_back_on_and_is_in_the_ledger(
    patient: Any, api_as: Callable[..., APIClient], staff: Callable[..., Any], api: Any
) -> None:
    _opt_out(patient)
    desk = staff(Role.FRONT_DESK)
    response = api(desk).post(
        "/api/v1/consents/",
        {**WRITTEN, "patient": patient.pk, "given_on": "2026-11-24"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source"], body["document"], body["given_on"]) == (
        "written",
        "SMS consent form, v3",
        "2026-11-24",
    )
    assert body["recorded_by"] == desk.pk
    assert _sms_consent(patient) is True
    ledger = api_as(Role.TECHNICIAN).get("/api/v1/consents/", {"patient": patient.pk}).json()
    assert [(e["granted"], e["source"]) for e in ledger["results"]] == [
        (False, "inbound_sms"),
        (True, "written"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"document": ""}, "document"),
        ({"given_on": None}, "given_on"),
        ({"given_on": "2026-11-26"}, "given_on"),  # tomorrow in New York
        ({"given_on": "2025-11-24"}, "given_on"),  # more than a year ago
    ],
)
def test_written_consent_needs_the_form_and_a_sensible_day(
    patient: Any, api_as: Callable[..., APIClient], change: dict[str, Any], field: str
) -> None:
    _opt_out(patient)
    response = api_as(Role.FRONT_DESK).post(
        "/api/v1/consents/",
        {**WRITTEN, "patient": patient.pk, "given_on": "2026-11-24", **change},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert _sms_consent(patient) is False


def test_who_may_read_and_record_consents(
    patient: Any, api_as: Callable[..., APIClient], api: Any, other_clinic: Any
) -> None:
    body = {**WRITTEN, "patient": patient.pk, "given_on": "2026-11-24"}
    for role in Role:
        client = api_as(role)
        assert client.get("/api/v1/consents/").status_code == 200
        # Front desk and psychiatrists record consents; clinic admins read them.
        expected = 201 if role in {Role.FRONT_DESK, Role.PSYCHIATRIST} else 403
        assert client.post("/api/v1/consents/", body, format="json").status_code == expected
    event = ConsentEvent.objects.first()
    assert event is not None
    assert api(None).get("/api/v1/consents/").status_code == 401
    assert api(None).post("/api/v1/consents/", body, format="json").status_code == 401
    stranger = api_as(Role.FRONT_DESK, in_clinic=other_clinic)
    assert stranger.get("/api/v1/consents/").json()["count"] == 0
    assert stranger.get(f"/api/v1/consents/{event.pk}/").status_code == 404
    refused = stranger.post("/api/v1/consents/", body, format="json")
    assert refused.status_code == 400  # another clinic's patient is as good as none
    admin = api_as(Role.CLINIC_ADMIN)
    assert admin.patch(f"/api/v1/consents/{event.pk}/", {}, format="json").status_code == 405
    assert admin.delete(f"/api/v1/consents/{event.pk}/").status_code == 405


def test_a_new_patient_may_be_registered_with_consent(
    clinic: Any, api_as: Callable[..., APIClient]
) -> None:
    """No opt-out yet: registering with consent is the first entry of the ledger."""
    MembershipFactory(clinic=ClinicFactory(), role=Role.FRONT_DESK)
    response = api_as(Role.FRONT_DESK).post(
        "/api/v1/patients/",
        {
            "clinic": clinic.pk,
            "mrn": "BK-9001",
            "first_name": "Ana",
            "last_name": "Lima",
            "date_of_birth": "1980-01-02",
            "phone": "+13475550111",
            "sms_consent": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert ConsentEvent.objects.get().granted is True
