"""Inbound SMS: STOP / START / HELP keywords, each provider message processed once."""

from __future__ import annotations

from django.db import transaction

from clinic.models import Patient
from notifications import content
from notifications.models import Channel, ConsentEvent, InboundMessage
from notifications.services.consent import consent_record

STOP_ANYWHERE = {"STOP", "STOPALL", "UNSUBSCRIBE", "REVOKE", "OPTOUT"}
STOP_FIRST = {"END", "QUIT", "CANCEL"}
START_WORDS = {"START", "UNSTOP", "YES", "SUBSCRIBE"}
HELP_WORDS = {"HELP", "INFO"}


def keyword_of(body: str) -> str | None:
    """STOP, START or HELP, whatever the case and the punctuation; an opt-out always
    wins over anything else in the same message."""
    words = "".join(ch if ch.isalnum() else " " for ch in body.upper()).split()
    if not words:
        return None
    if STOP_ANYWHERE & set(words) or words[0] in STOP_FIRST:
        return "STOP"
    if words[0] in START_WORDS:
        return "START"
    if words[0] in HELP_WORDS:
        return "HELP"
    return None


@transaction.atomic
def handle_inbound_sms(message_id: str, from_number: str, body: str) -> str | None:
    """Apply a patient's keyword to every patient with that number; returns the reply
    to send back (None: no reply, e.g. an unknown number or no keyword). Each provider
    message id is processed once: a replay is answered with nothing and changes nothing."""
    _, first_time = InboundMessage.objects.get_or_create(provider_message_id=message_id)
    if not first_time:
        return None
    patients = list(Patient.objects.filter(phone=from_number).select_related("clinic"))
    keyword = keyword_of(body)
    if not patients or keyword is None:
        return None
    clinic = patients[0].clinic
    phone = content.display_phone(clinic.phone)
    if keyword == "STOP":
        for patient in patients:
            if patient.sms_consent:
                consent_record(
                    patient, Channel.SMS, granted=False, source=ConsentEvent.Source.INBOUND_SMS
                )
        return (
            f"{clinic.display_name}: you will get no more texts from us. "
            f"Reply START to resume. {phone}"
        )
    if keyword == "START":
        for patient in patients:
            if not patient.sms_consent:
                consent_record(
                    patient, Channel.SMS, granted=True, source=ConsentEvent.Source.INBOUND_SMS
                )
        return f"{clinic.display_name}: texts are back on. Reply STOP to opt out."
    return f"{clinic.display_name}: call us at {phone}. Reply STOP to opt out."
