"""Message content: minimum necessary, the clinic's neutral name, never the treatment.

Patients see their first name, the clinic-local date and time, the clinic's display
name and phone, and how to opt out. Never "TMS", "depression", "psychiatry", a
diagnosis or a protocol: a text on a lock screen must not disclose psychiatric care.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.template.loader import render_to_string

from clinic.models import Clinic, Patient
from clinic.patient_text import to_gsm7
from notifications.models import Channel, Kind

SUBJECTS = {
    Kind.COURSE_BOOKED: "Your appointments are booked",
    Kind.FIRST_SESSION: "Your first appointment",
    Kind.SESSION_MOVED: "Your appointment has moved",
    Kind.DAY_BEFORE: "Appointment reminder",
    Kind.SAME_DAY: "See you today",
    Kind.MISSED_FOLLOWUP: "We missed you",
    Kind.MAKEUP_BOOKED: "An extra appointment for you",
}

SMS_LIMIT = 160  # GSM-7 characters in one segment


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def human_date(day: dt.date) -> str:
    return f"{day:%a} {day:%b} {day.day}"


def human_time(moment: dt.time) -> str:
    return f"{(moment.hour - 1) % 12 + 1}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def display_phone(e164: str) -> str:
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def render(
    kind: str,
    channel: str,
    *,
    patient: Patient,
    clinic: Clinic,
    at: dt.datetime | None,
    link: str = "",
    calendar_link: str = "",
    makeup_booked: bool = False,
) -> Message:
    local = at.astimezone(clinic.tz) if at is not None else None
    context = {
        "first_name": patient.first_name,
        "clinic": clinic.display_name,
        "phone": display_phone(clinic.phone),
        "date": human_date(local.date()) if local else "",
        "time": human_time(local.time()) if local else "",
        "opt_out": channel == Channel.SMS,
        "makeup_booked": makeup_booked,  # a missed visit already made up: no "call us"
        "greet": True,  # an email greets in its first line and includes the text without
        # Links only in email: in an SMS they would not fit one 160-character segment.
        "link": link if channel == Channel.EMAIL else "",
        "calendar_link": calendar_link if channel == Channel.EMAIL else "",
    }
    template = f"notifications/{channel}/{kind}.txt"
    if channel == Channel.SMS:
        return Message(subject=SUBJECTS[Kind(kind)], body=_sms_body(template, context))
    body = render_to_string(template, context).strip()
    return Message(subject=SUBJECTS[Kind(kind)], body=body)


def _sms_body(template: str, context: dict[str, Any]) -> str:
    """One 160-character GSM-7 segment: names lose the accents a phone could not show
    as they are, and a first name too long to fit is left out ("Hi, ...")."""
    context = {
        **context,
        "first_name": to_gsm7(context["first_name"]).strip(),
        "clinic": to_gsm7(context["clinic"]),
    }
    body = render_to_string(template, context).strip()
    if len(body) > SMS_LIMIT:
        body = render_to_string(template, {**context, "first_name": ""}).strip()
    return body
