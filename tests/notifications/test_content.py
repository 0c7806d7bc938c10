"""Message content: minimum necessary, GSM-7, within one SMS segment, clinic-local."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from clinic.patient_text import GSM7
from courses.models import Protocol
from notifications import content, services
from notifications.models import Channel, Kind, Notification, Status
from notifications.transports import LocmemTransport, reset_transports
from tests.factories import ClinicFactory, CourseFactory, PatientFactory, SessionFactory

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC

# Wednesday 15 September 2027, 10:45 in New York.
SEPTEMBER_SESSION = dt.datetime(2027, 9, 15, 10, 45, tzinfo=NEW_YORK)
LONG_FIRST_NAMES = ["Maximiliana", "Bartholomew"]
LONG_DISPLAY_NAME = "Prospect Heights Wellness Ctr"  # 29 characters
CLINIC_PHONE = "+13475550187"
CLINIC_PHONE_NATIONAL = "(347) 555-0187"

BANNED_WORDS = ["tms", "magnetic", "depression", "psychiatr", "diagnosis"]
# Nothing billing-related reaches a patient's phone or inbox (docs/billing.md): no
# procedure or diagnosis code, no payer, authorization or superbill.
BILLING_WORDS = ["9086", "cpt", "icd", "f33.", "superbill", "authoriz", "billing", "npi", "payer"]
# Kinds whose text names the day / the time of the session.
# "see you today at ..." / "we missed you on <date>"; the relapse watch's questionnaire
# link names no session, and a waitlist offer asks the patient to call (nothing is booked).
WITHOUT_DATE = {Kind.SAME_DAY, Kind.WATCH_CHECKIN, Kind.WAITLIST_OFFER}
WITHOUT_TIME = {Kind.MISSED_FOLLOWUP, Kind.WATCH_CHECKIN, Kind.WAITLIST_OFFER}


@pytest.fixture
def long_clinic(db: None) -> Any:
    return ClinicFactory(display_name=LONG_DISPLAY_NAME, phone=CLINIC_PHONE)


@pytest.fixture
def protocol_terms(db: None) -> list[str]:
    """Every seeded catalog protocol's code and name: none may reach a patient."""
    catalog = list(Protocol.objects.filter(clinic=None).values_list("code", "name"))
    assert len(catalog) >= 5, "the seeded protocol catalog is missing"
    return [term.lower() for pair in catalog for term in pair]


def disclosures(text: str, protocol_terms: list[str]) -> list[str]:
    lowered = text.lower()
    return [term for term in [*BANNED_WORDS, *BILLING_WORDS, *protocol_terms] if term in lowered]


def test_patient_facing_templates_name_nothing_of_billing() -> None:
    """The texts, emails and patient link pages as written, before rendering."""
    root = Path(__file__).resolve().parents[2] / "notifications" / "templates" / "notifications"
    templates = [
        *root.glob("sms/**/*.*"),
        *root.glob("email/**/*.*"),
        *root.glob("patient_*.html"),
    ]
    assert len(templates) >= 5
    found = {
        str(path.relative_to(root)): [word for word in BILLING_WORDS if word in text]
        for path in templates
        if any(word in (text := path.read_text().lower()) for word in BILLING_WORDS)
    }
    assert found == {}


def patient_named(clinic: Any, first_name: str) -> Any:
    return PatientFactory.build(clinic=clinic, first_name=first_name)


def body_for(kind: Kind, channel: Channel, clinic: Any, first_name: str) -> str:
    """The text ``first_name`` at ``clinic`` gets for the September session."""
    patient = patient_named(clinic, first_name)
    return content.render(kind, channel, patient=patient, clinic=clinic, at=SEPTEMBER_SESSION).body


@pytest.mark.parametrize("first_name", LONG_FIRST_NAMES)
@pytest.mark.parametrize("kind", list(Kind))
def test_sms_fits_one_gsm7_segment_and_discloses_nothing(
    kind: Kind, first_name: str, long_clinic: Any, protocol_terms: list[str]
) -> None:
    message = content.render(
        kind,
        Channel.SMS,
        patient=patient_named(long_clinic, first_name),
        clinic=long_clinic,
        at=SEPTEMBER_SESSION,
    )
    body = message.body

    assert len(body) <= 160, f"{kind}: {len(body)} characters: {body!r}"
    assert set(body) <= GSM7, f"non GSM-7 characters: {set(body) - GSM7}"
    assert "Reply STOP" in body
    assert disclosures(body, protocol_terms) == []
    assert disclosures(message.subject, protocol_terms) == []
    # Minimum necessary, but what is necessary is there.
    assert first_name in body
    assert LONG_DISPLAY_NAME in body
    assert CLINIC_PHONE_NATIONAL in body
    assert ("Wed Sep 15" in body) is (kind not in WITHOUT_DATE)
    assert ("10:45 AM" in body) is (kind not in WITHOUT_TIME)


@pytest.mark.parametrize("kind", list(Kind))
def test_email_has_clinic_contact_no_sms_opt_out_and_discloses_nothing(
    kind: Kind, long_clinic: Any, protocol_terms: list[str]
) -> None:
    message = content.render(
        kind,
        Channel.EMAIL,
        patient=patient_named(long_clinic, "Bartholomew"),
        clinic=long_clinic,
        at=SEPTEMBER_SESSION,
    )

    assert message.subject == content.SUBJECTS[kind]
    assert "Reply STOP" not in message.body
    assert "STOP" not in message.body
    assert LONG_DISPLAY_NAME in message.body
    assert CLINIC_PHONE_NATIONAL in message.body
    assert "Bartholomew" in message.body
    # Greeted once ("Hello Bartholomew,"), and the text it shares with the SMS then
    # starts as a sentence of its own, not with a second "Hi Bartholomew,".
    assert message.body.startswith("Hello Bartholomew,\n\n")
    assert "Hi " not in message.body
    second_paragraph = message.body.split("\n\n")[1]
    assert second_paragraph[0].isupper()
    assert disclosures(message.body, protocol_terms) == []
    assert disclosures(message.subject, protocol_terms) == []


def test_banned_word_check_would_catch_a_disclosure(protocol_terms: list[str]) -> None:
    """The lint itself works: it sees each banned word and each protocol, in any case."""
    assert disclosures("Your Deep TMS, 18 Hz H1 coil visit", protocol_terms)
    assert disclosures("PSYCHIATRIC follow-up", protocol_terms)
    assert disclosures("your ITBS session", protocol_terms)
    assert disclosures("Transcranial Magnetic Stimulation", protocol_terms)
    assert disclosures("Hi Ana, see you Wed Sep 15 at 10:45 AM.", protocol_terms) == []


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("kind", list(Kind))
def test_apostrophes_and_ampersands_are_not_html_escaped(
    kind: Kind, channel: Channel, db: None
) -> None:
    clinic = ClinicFactory(display_name="Park & Main Wellness", phone=CLINIC_PHONE)
    patient = patient_named(clinic, "O'Brien")

    body = content.render(kind, channel, patient=patient, clinic=clinic, at=SEPTEMBER_SESSION).body

    assert "O'Brien" in body
    assert "Park & Main Wellness" in body
    assert "&#x27;" not in body
    assert "&#39;" not in body
    assert "&amp;" not in body
    if channel == Channel.SMS:
        assert set(body) <= GSM7


@pytest.mark.parametrize(
    ("tz_name", "starts_at", "date_text", "time_text"),
    [
        # New York, the week after the spring change (EDT, UTC-4).
        ("America/New_York", dt.datetime(2027, 3, 16, 13, 30, tzinfo=UTC), "Tue Mar 16", "9:30 AM"),
        # New York, the week before it (EST, UTC-5).
        ("America/New_York", dt.datetime(2027, 3, 12, 14, 30, tzinfo=UTC), "Fri Mar 12", "9:30 AM"),
        # The Monday after the change in 2026 (8 March).
        ("America/New_York", dt.datetime(2026, 3, 9, 13, 30, tzinfo=UTC), "Mon Mar 9", "9:30 AM"),
        # After the autumn change (EST again).
        ("America/New_York", dt.datetime(2027, 11, 8, 14, 30, tzinfo=UTC), "Mon Nov 8", "9:30 AM"),
        # Phoenix keeps MST (UTC-7) all year: March and July alike.
        ("America/Phoenix", dt.datetime(2027, 3, 16, 16, 30, tzinfo=UTC), "Tue Mar 16", "9:30 AM"),
        ("America/Phoenix", dt.datetime(2027, 7, 14, 16, 30, tzinfo=UTC), "Wed Jul 14", "9:30 AM"),
        # Late afternoon in Phoenix is already tomorrow in UTC: the local date counts.
        ("America/Phoenix", dt.datetime(2027, 9, 16, 0, 30, tzinfo=UTC), "Wed Sep 15", "5:30 PM"),
        # Noon and 12-hour clock edges.
        ("America/New_York", dt.datetime(2027, 9, 15, 16, 5, tzinfo=UTC), "Wed Sep 15", "12:05 PM"),
    ],
)
def test_date_and_time_are_clinic_local(
    tz_name: str, starts_at: dt.datetime, date_text: str, time_text: str, db: None
) -> None:
    clinic = ClinicFactory(timezone=tz_name)
    patient = patient_named(clinic, "Ana")

    booked = content.render(
        Kind.COURSE_BOOKED, Channel.SMS, patient=patient, clinic=clinic, at=starts_at
    ).body
    same_day = content.render(
        Kind.SAME_DAY, Channel.EMAIL, patient=patient, clinic=clinic, at=starts_at
    ).body

    assert f"{date_text} at {time_text}" in booked
    assert f"today at {time_text}" in same_day


# 11:00 in Phoenix, a week before the session: inside the send window.
@time_machine.travel(dt.datetime(2027, 3, 9, 18, tzinfo=UTC), tick=False)
def test_sent_body_is_clinic_local_across_dst(db: None, settings: Any) -> None:
    """End to end: the body stored on the row after sending uses the clinic's zone."""
    settings.NOTIFICATION_TRANSPORTS = {
        "sms": "notifications.transports.LocmemTransport",
        "email": "notifications.transports.LocmemTransport",
    }
    reset_transports()
    LocmemTransport.outbox.clear()
    try:
        phoenix = ClinicFactory(timezone="America/Phoenix", display_name="Desert Ridge Wellness")
        patient = PatientFactory(clinic=phoenix, first_name="Bartholomew")
        session = SessionFactory(
            course=CourseFactory(patient=patient),
            starts_at=dt.datetime(2027, 3, 16, 16, 30, tzinfo=UTC),
        )
        row = Notification.objects.create(
            clinic=phoenix,
            patient=patient,
            session=session,
            channel=Channel.SMS,
            kind=Kind.COURSE_BOOKED,
            idempotency_key=f"test:{session.pk}:course_booked:sms",
            scheduled_for=timezone.now() - dt.timedelta(minutes=1),
        )

        assert services.send(row.pk) == Status.SENT

        row.refresh_from_db()
        assert "Tue Mar 16 at 9:30 AM" in row.body
        assert [sent.body for sent in LocmemTransport.outbox] == [row.body]
    finally:
        LocmemTransport.outbox.clear()
        reset_transports()


@pytest.mark.parametrize(
    ("first_name", "shown"),
    [("Zoë", "Zoe"), ("Łukasz", "Lukasz"), ("Nguyễn", "Nguyen"), ("José", "José")],
)
@pytest.mark.parametrize("kind", list(Kind))
def test_sms_names_lose_only_the_accents_a_phone_cannot_show(
    kind: Kind, first_name: str, shown: str, long_clinic: Any
) -> None:
    body = body_for(kind, Channel.SMS, long_clinic, first_name)
    assert body.startswith(f"Hi {shown}, ")
    assert set(body) <= GSM7 and len(body) <= 160
    # Email carries the name as it is.
    assert first_name in body_for(kind, Channel.EMAIL, long_clinic, first_name)


LONGEST_NAME = "Maximiliana-Bartholomea"  # 23 characters


@pytest.mark.parametrize("kind", list(Kind))
def test_a_first_name_too_long_for_one_sms_is_left_out(kind: Kind, long_clinic: Any) -> None:
    body = body_for(kind, Channel.SMS, long_clinic, LONGEST_NAME)
    assert len(body) <= 160 and set(body) <= GSM7
    assert LONG_DISPLAY_NAME in body and "Reply STOP" in body
    # Left out only where it does not fit: the booking text is the longest, the
    # same-day one the shortest.
    if kind == Kind.COURSE_BOOKED:
        assert body.startswith("Hi, your visits at ")
    if kind == Kind.SAME_DAY:
        assert body.startswith(f"Hi {LONGEST_NAME}, see you today")
    if body.startswith("Hi, "):
        assert len(body.replace("Hi, ", f"Hi {LONGEST_NAME}, ", 1)) > 160
