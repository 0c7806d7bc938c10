"""The consent ledger: who agreed to be contacted on which channel, when and how."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from clinic.models import Patient
from notifications.models import (
    Channel,
    ConsentEvent,
    Notification,
)
from notifications.services.outbox import cancel_pending


@transaction.atomic
def consent_record(
    patient: Patient,
    channel: str,
    *,
    granted: bool,
    source: str,
    by: Any = None,
    text_version: str = "2026-11",
) -> ConsentEvent:
    """Append to the ledger and update the patient's current consent in one go."""
    event = ConsentEvent.objects.create(
        patient=patient,
        channel=channel,
        granted=granted,
        source=source,
        recorded_by=by,
        text_version=text_version,
    )
    field = "sms_consent" if channel == Channel.SMS else "email_consent"
    Patient.objects.filter(pk=patient.pk).update(**{field: granted})
    setattr(patient, field, granted)
    if not granted:
        cancel_pending(
            Notification.objects.filter(patient=patient, channel=channel), "consent revoked"
        )
    return event
