"""Inbound SMS, each provider message processed once: STOP / START / HELP keywords,
YES confirms the patient's next visit, and any other text goes to the front desk's
inbox of the patient's clinic."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from clinic.models import Patient
from notifications import content
from notifications.models import Channel, ConsentEvent, InboundMessage, Notification, PatientReply
from notifications.services.consent import consent_record
from scheduling import services as scheduling_services
from scheduling.models import Session, SessionStatus

STOP_ANYWHERE = {"STOP", "STOPALL", "UNSUBSCRIBE", "REVOKE", "OPTOUT"}
STOP_FIRST = {"END", "QUIT", "CANCEL"}
START_WORDS = {"START", "UNSTOP", "SUBSCRIBE"}
# YES is also a carrier opt-in word: it re-subscribes a patient who opted out, and
# confirms the next visit of one who did not.
YES_WORDS = {"YES"}
HELP_WORDS = {"HELP", "INFO"}
REPLY_MAX_CHARS = 1600  # ten segments: what a provider delivers as one message


def keyword_of(body: str) -> str | None:
    """STOP, START, YES or HELP, whatever the case and the punctuation; an opt-out
    always wins over anything else in the same message."""
    words = "".join(ch if ch.isalnum() else " " for ch in body.upper()).split()
    if not words:
        return None
    if STOP_ANYWHERE & set(words) or words[0] in STOP_FIRST:
        return "STOP"
    if words[0] in START_WORDS:
        return "START"
    if words[0] in YES_WORDS:
        return "YES"
    if words[0] in HELP_WORDS:
        return "HELP"
    return None


def sender_of(patients: Sequence[Patient]) -> Patient:
    """Which of the patients sharing a number wrote: the one we texted last (they are
    answering that text), else the one registered last. A family may share a phone,
    and a patient may be registered at two clinics: the reply goes to one clinic only."""
    texted = (
        Notification.objects.filter(
            patient__in=patients, channel=Channel.SMS, sent_at__isnull=False
        )
        .order_by("-sent_at", "-id")
        .values_list("patient_id", flat=True)
        .first()
    )
    if texted is not None:
        return next(patient for patient in patients if patient.pk == texted)
    return max(patients, key=lambda patient: (patient.created_at, patient.pk))


@transaction.atomic
def handle_inbound_sms(message_id: str, from_number: str, body: str) -> str | None:
    """Act on a patient's text; returns the reply to send back (None: no reply, e.g. an
    unknown number). Each provider message id is processed once: a replay is answered
    with nothing and changes nothing."""
    _, first_time = InboundMessage.objects.get_or_create(provider_message_id=message_id)
    if not first_time:
        return None
    patients = list(Patient.objects.filter(phone=from_number).select_related("clinic"))
    if not patients:
        return None
    keyword = keyword_of(body)
    if keyword == "STOP":
        return _opt_out(patients)
    if keyword == "START" or (keyword == "YES" and not sender_of(patients).sms_consent):
        return _opt_in(patients)
    sender = sender_of(patients)
    clinic = sender.clinic
    phone = content.display_phone(clinic.phone)
    if keyword == "YES":
        return _confirm_next_visit(sender)
    if keyword == "HELP":
        return f"{clinic.display_name}: call us at {phone}. Reply STOP to opt out."
    return _to_inbox(sender, body)


def _opt_out(patients: list[Patient]) -> str:
    for patient in patients:
        if patient.sms_consent:
            consent_record(
                patient, Channel.SMS, granted=False, source=ConsentEvent.Source.INBOUND_SMS
            )
    clinic = patients[0].clinic
    return (
        f"{clinic.display_name}: you will get no more texts from us. "
        f"Reply START to resume. {content.display_phone(clinic.phone)}"
    )


def _opt_in(patients: list[Patient]) -> str:
    for patient in patients:
        if not patient.sms_consent:
            consent_record(
                patient, Channel.SMS, granted=True, source=ConsentEvent.Source.INBOUND_SMS
            )
    return f"{patients[0].clinic.display_name}: texts are back on. Reply STOP to opt out."


def _confirm_next_visit(patient: Patient) -> str:
    """YES confirms the patient's next visit, as the confirm button of their link does."""
    clinic = patient.clinic
    session = (
        Session.objects.filter(
            patient=patient, status=SessionStatus.SCHEDULED, starts_at__gt=timezone.now()
        )
        .order_by("starts_at", "id")
        .first()
    )
    if session is None:
        return (
            f"{clinic.display_name}: we found no upcoming visit to confirm. "
            f"Questions? {content.display_phone(clinic.phone)}"
        )
    scheduling_services.session_confirm_by_patient(session)
    local = session.starts_at.astimezone(clinic.tz)
    return (
        f"{clinic.display_name}: thank you, your visit on {content.human_date(local.date())} "
        f"at {content.human_time(local.time())} is confirmed."
    )


def _to_inbox(patient: Patient, body: str) -> str | None:
    """Keep the text for the front desk. The first unhandled text gets an answer saying
    a person will read it (not at once: the desk is not always staffed); later ones
    before the desk has handled it get none."""
    text = body.strip()[:REPLY_MAX_CHARS]
    if not text:
        return None
    waiting = PatientReply.objects.filter(patient=patient, handled_at__isnull=True).exists()
    PatientReply.objects.create(clinic=patient.clinic, patient=patient, body=text)
    if waiting or not patient.sms_consent:
        return None
    clinic = patient.clinic
    return (
        f"{clinic.display_name}: thanks, our front desk will read your message during "
        f"opening hours. Urgent? Call {content.display_phone(clinic.phone)}."
    )


def reply_mark_handled(reply: PatientReply, *, by: object) -> bool:
    """The front desk has dealt with a patient's text; the first to do so is kept.
    Returns whether this call marked it."""
    return bool(
        PatientReply.objects.filter(pk=reply.pk, handled_at__isnull=True).update(
            handled_at=timezone.now(), handled_by=by
        )
    )
