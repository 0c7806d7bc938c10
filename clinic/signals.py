"""What the clinic app announces to the apps above it (docs/architecture.md).

Sent by a service inside its own transaction; receivers run synchronously, so what
they write commits or rolls back with the change. A receiver that fails makes the
service fail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.dispatch import Signal

from clinic.models import Clinic, Patient

# patient, channel ("sms" | "email"), granted, source, by, document, given_on: staff
# changed a patient's consent to be contacted on a channel (a written consent names the
# form and the day it was signed); the notifications app keeps the consent ledger.
patient_consent_changed = Signal()

CONSENT_FIELDS = (("sms", "sms_consent"), ("email", "email_consent"))

# patient: staff changed how a patient is reached (phone, email or preferred channel);
# the notifications app moves the messages still due to the channels now chosen.
patient_channels_changed = Signal()

CHANNEL_FIELDS = ("phone", "email", "preferred_channel")


# clinic_id: a closure was added, moved or removed, or a chair added, retired or put
# back in service: the room on the chairs changed (scheduling re-fits its waitlist).
capacity_changed = Signal()


def announce_capacity_changed(clinic_id: int) -> None:
    capacity_changed.send(sender=Clinic, clinic_id=clinic_id)


def announce_channel_changes(patient: Patient, before: dict[str, Any]) -> None:
    if any(getattr(patient, field) != before.get(field) for field in CHANNEL_FIELDS):
        patient_channels_changed.send(sender=Patient, patient=patient)


def announce_consent_changes(
    patient: Patient,
    before: dict[str, bool],
    *,
    source: str,
    by: Any,
    document: str = "",
    given_on: dt.date | None = None,
) -> None:
    for channel, field in CONSENT_FIELDS:
        granted = bool(getattr(patient, field))
        if granted != before[field]:
            patient_consent_changed.send(
                sender=Patient,
                patient=patient,
                channel=channel,
                granted=granted,
                source=source,
                by=by,
                document=document,
                given_on=given_on,
            )
