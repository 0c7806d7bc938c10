"""The consent ledger: who agreed to be contacted on which channel, when and how."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.errors import Conflict
from clinic.models import Patient
from notifications.models import (
    Channel,
    ConsentEvent,
)
from notifications.services.outbox import reroute_pending

# Consent that may switch SMS back on after an opt-out: the patient's own START, or a
# new consent they gave in writing (TCPA: an opt-out holds until the person revokes it).
RENEWS_AFTER_OPT_OUT = (ConsentEvent.Source.INBOUND_SMS, ConsentEvent.Source.WRITTEN)
WRITTEN_CONSENT_OLDEST_DAYS = 365


def _opted_out_of_sms(patient: Patient) -> bool:
    latest = (
        ConsentEvent.objects.filter(patient=patient, channel=Channel.SMS)
        .order_by("-at", "-id")
        .first()
    )
    return latest is not None and not latest.granted


def _check_written(patient: Patient, document: str, given_on: dt.date | None, by: Any) -> None:
    errors = {}
    if not document.strip():
        errors["document"] = ValidationError("Name the form the patient signed.", code="required")
    today = patient.clinic.today()
    if given_on is None:
        errors["given_on"] = ValidationError("Give the day it was signed.", code="required")
    elif not today - dt.timedelta(days=WRITTEN_CONSENT_OLDEST_DAYS) <= given_on <= today:
        errors["given_on"] = ValidationError(
            "The day it was signed must be within the last year, not in the future.",
            code="out_of_range",
        )
    if by is None:
        errors["recorded_by"] = ValidationError("Written consent is recorded by staff.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def consent_record(
    patient: Patient,
    channel: str,
    *,
    granted: bool,
    source: str,
    by: Any = None,
    text_version: str = "2026-11",
    document: str = "",
    given_on: dt.date | None = None,
) -> ConsentEvent:
    """Append to the ledger and update the patient's current consent in one go. After an
    opt-out, SMS is granted again only by the patient's START or a written consent
    (409 ``opted_out`` for anything else, e.g. a plain edit of the patient)."""
    if source == ConsentEvent.Source.WRITTEN:
        _check_written(patient, document, given_on, by)
    if (
        granted
        and channel == Channel.SMS
        and source not in RENEWS_AFTER_OPT_OUT
        and _opted_out_of_sms(patient)
    ):
        raise Conflict(
            "The patient opted out of texts. They come back on when the patient texts START, "
            "or when you record the consent they gave in writing.",
            code="opted_out",
        )
    event = ConsentEvent.objects.create(
        patient=patient,
        channel=channel,
        granted=granted,
        source=source,
        recorded_by=by,
        text_version=text_version,
        document=document,
        given_on=given_on,
    )
    field = "sms_consent" if channel == Channel.SMS else "email_consent"
    Patient.objects.filter(pk=patient.pk).update(**{field: granted})
    setattr(patient, field, granted)
    # What was due on a channel withdrawn goes on the other one if the patient agreed to
    # it; a consent granted may make it the preferred one (policy.message_channels).
    reroute_pending(patient, "consent revoked" if not granted else "channel changed")
    return event
