"""The Django admin (superusers only) cannot bypass the consent ledger."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.factories import PatientFactory


def test_patient_consent_is_read_only_in_the_admin(superuser: Any, clinic: Any) -> None:
    patient = PatientFactory(clinic=clinic, sms_consent=True)
    client = Client()
    client.force_login(superuser)
    url = f"/admin/clinic/patient/{patient.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="first_name"' in html
    assert 'name="sms_consent"' not in html and 'name="email_consent"' not in html

    form = {
        "clinic": clinic.pk,
        "mrn": patient.mrn,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "phone": patient.phone,
        "email": patient.email,
        "preferred_channel": "sms",
        "sms_consent": "",  # unticked: ignored
    }
    saved = client.post(url, form)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    patient.refresh_from_db()
    assert patient.sms_consent is True
