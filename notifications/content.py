"""Message content: minimum necessary, the clinic's neutral name, never the treatment.

Patients see their first name, the clinic-local date and time, the clinic's display
name and phone, and how to opt out. Never "TMS", "depression", "psychiatry", a
diagnosis or a protocol: a text on a lock screen must not disclose psychiatric care.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.template.loader import render_to_string

from clinic.models import Clinic, Patient
from clinic.patient_text import sms_segments, to_gsm7
from notifications.models import Channel, Kind

SUBJECTS = {
    Kind.COURSE_BOOKED: "Your appointments are booked",
    Kind.FIRST_SESSION: "Your first appointment",
    Kind.SESSION_MOVED: "Your appointment has moved",
    Kind.DAY_BEFORE: "Appointment reminder",
    Kind.SAME_DAY: "See you today",
    Kind.MISSED_FOLLOWUP: "We missed you",
    Kind.MAKEUP_BOOKED: "An extra appointment for you",
    Kind.SESSION_CANCELLED: "Your appointment is cancelled",
    Kind.WATCH_CHECKIN: "How have you been?",
    Kind.WAITLIST_OFFER: "An earlier start is free",
}

# Day-before reminders ask for a reply: YES confirms the patient's next visit.
CONFIRM_BY_REPLY = (Kind.FIRST_SESSION, Kind.DAY_BEFORE)


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def human_date(day: dt.date) -> str:
    return f"{day:%a} {day:%b} {day.day}"


def human_time(moment: dt.time) -> str:
    return f"{(moment.hour - 1) % 12 + 1}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


@functools.lru_cache(maxsize=1024)
def display_phone(e164: str) -> str:
    """A clinic's number as its patients dial it. Cached: a batch of a clinic's texts
    formats the same number each time (phonenumbers' parse and format cost more than
    the rest of a text's rendering)."""
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def render(
    kind: str,
    channel: str,
    *,
    patient: Patient,
    clinic: Clinic,
    at: dt.datetime | None,
    previous_at: dt.datetime | None = None,
    link: str = "",
    calendar_link: str = "",
    makeup_booked: bool = False,
) -> Message:
    """The message; ``link`` is the session's page: the full link in an email, the
    short one in a text (and only when the text still fits one segment with it)."""
    local = at.astimezone(clinic.tz) if at is not None else None
    before = previous_at.astimezone(clinic.tz) if previous_at is not None else None
    context = {
        "first_name": patient.first_name,
        "clinic": clinic.display_name,
        "phone": display_phone(clinic.phone),
        "date": human_date(local.date()) if local else "",
        "time": human_time(local.time()) if local else "",
        "previous_date": human_date(before.date()) if before else "",
        "previous_time": human_time(before.time()) if before else "",
        "opt_out": channel == Channel.SMS,
        "makeup_booked": makeup_booked,  # a lost visit already made up: no "call us"
        "greet": True,  # an email greets in its first line and includes the text without
        "link": link if channel == Channel.EMAIL else "",
        "calendar_link": calendar_link if channel == Channel.EMAIL else "",
    }
    template = f"notifications/{channel}/{kind}.txt"
    if channel == Channel.SMS:
        body = _sms_body(
            template,
            context,
            link,
            reply_yes=kind in CONFIRM_BY_REPLY,
            link_first=kind == Kind.WATCH_CHECKIN,
        )
        return Message(subject=SUBJECTS[Kind(kind)], body=body)
    body = render_to_string(template, context).strip()
    return Message(subject=SUBJECTS[Kind(kind)], body=body)


def _sms_body(
    template: str, context: dict[str, Any], link: str, *, reply_yes: bool, link_first: bool
) -> str:
    """One GSM-7 segment. Names lose the accents a phone could not show as they are.
    What does not fit goes, least needed first: the "reply YES" hint, the link, then a
    first name too long to fit ("Hi, ..."); a message that is its link (``link_first``:
    the questionnaire) gives up the first name before the link."""
    context = {
        **context,
        "first_name": to_gsm7(context["first_name"]).strip(),
        "clinic": to_gsm7(context["clinic"]),
    }
    variants: list[dict[str, Any]] = [
        {"sms_link": link, "reply_yes": reply_yes},
        {"sms_link": link},
        {"reply_yes": reply_yes},
        {},
        {"first_name": ""},
    ]
    if link_first:
        variants = [
            {"sms_link": link},
            {"sms_link": link, "first_name": ""},
            {},
            {"first_name": ""},
        ]
    body = ""
    for variant in variants:
        body = render_to_string(template, {**context, **variant}).strip()
        if sms_segments(body) == 1:
            break
    return body
