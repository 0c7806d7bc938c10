"""Message content: minimum necessary, the clinic's neutral name, never the treatment.

Patients see their first name, the clinic-local date and time, the clinic's display
name and phone, and how to opt out. Never "TMS", "depression", "psychiatry", a
diagnosis or a protocol: a text on a lock screen must not disclose psychiatric care.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import phonenumbers
from django.template.loader import render_to_string

from clinic.models import Clinic, Patient
from notifications.models import Channel, Kind

SUBJECTS = {
    Kind.COURSE_BOOKED: "Your appointments are booked",
    Kind.FIRST_SESSION: "Your first appointment",
    Kind.SESSION_MOVED: "Your appointment has moved",
    Kind.DAY_BEFORE: "Appointment reminder",
    Kind.SAME_DAY: "See you today",
    Kind.MISSED_FOLLOWUP: "We missed you",
}

# The GSM 03.38 basic character set: an SMS of these costs 1 segment up to 160.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


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
) -> Message:
    local = at.astimezone(clinic.tz) if at is not None else None
    context = {
        "first_name": patient.first_name,
        "clinic": clinic.display_name,
        "phone": display_phone(clinic.phone),
        "date": human_date(local.date()) if local else "",
        "time": human_time(local.time()) if local else "",
        "opt_out": channel == Channel.SMS,
        # Links only in email: in an SMS they would not fit one 160-character segment.
        "link": link if channel == Channel.EMAIL else "",
        "calendar_link": calendar_link if channel == Channel.EMAIL else "",
    }
    body = render_to_string(f"notifications/{channel}/{kind}.txt", context).strip()
    return Message(subject=SUBJECTS[Kind(kind)], body=body)
