"""Patient pages from signed links: confirm, cancel (with make-up rules), calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import ics
import pytest
from django.core import signing
from django.test import Client
from icalendar import Calendar

from notifications import content, links
from scheduling.models import Session, SessionStatus
from scheduling.services import course_schedule

pytestmark = pytest.mark.usefixtures("frozen_now")

BANNED = ("tms", "magnetic", "depress", "psychiatr", "diagnos", "10hz", "protocol")


@pytest.fixture
def booked(make_course: Any, chairs: list[Any]) -> Any:
    course = make_course()
    course_schedule(course)
    return course


def _first(course: Any) -> Session:
    return Session.objects.filter(course=course).order_by("starts_at").first()


def _page(client: Client, session: Session) -> Any:
    return client.get(f"/p/session/{links.session_token(session)}/")


def test_page_shows_the_appointment_and_nothing_clinical(booked: Any) -> None:
    session = _first(booked)
    response = _page(Client(), session)
    assert response.status_code == 200
    text = response.content.decode()
    assert booked.patient.first_name in text
    assert "Mon Nov 30" in text and "9:30 AM" in text
    assert booked.patient.last_name not in text
    assert not any(word in text.lower() for word in BANNED)


def test_confirm(booked: Any) -> None:
    session = _first(booked)
    client = Client()
    path = f"/p/session/{links.session_token(session)}/"
    response = client.post(path, {"action": "confirm"})
    assert response.status_code == 200
    assert "confirmed" in response.content.decode()
    session.refresh_from_db()
    assert session.patient_confirmed_at is not None


def test_cancel_in_time_books_a_makeup(booked: Any) -> None:
    session = Session.objects.filter(course=booked).order_by("starts_at")[3]
    path = f"/p/session/{links.session_token(session)}/"
    response = Client().post(path, {"action": "cancel"})
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    assert Session.objects.filter(makeup_for=session).exists()


def test_too_late_to_cancel_online(booked: Any, frozen_now: Any) -> None:
    session = _first(booked)
    frozen_now.move_to(session.starts_at - dt.timedelta(hours=3))
    response = Client().post(f"/p/session/{links.session_token(session)}/", {"action": "cancel"})
    assert "too late" in response.content.decode()
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


@pytest.mark.parametrize("mangle", ["tamper", "other_salt", "garbage"])
def test_tampered_links_are_refused(booked: Any, mangle: str) -> None:
    session = _first(booked)
    token = links.session_token(session)
    bad = {
        "tamper": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "other_salt": signing.dumps({"s": session.pk, "t": 0}, salt="something-else"),
        "garbage": "not-a-token",
    }[mangle]
    assert Client().get(f"/p/session/{bad}/").status_code == 404
    assert Client().post(f"/p/session/{bad}/", {"action": "cancel"}).status_code == 404
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


def test_links_expire_and_die_when_the_session_moves(booked: Any, frozen_now: Any) -> None:
    session = _first(booked)
    token = links.session_token(session)
    Session.objects.filter(pk=session.pk).update(
        starts_at=session.starts_at + dt.timedelta(hours=1),
        ends_at=session.ends_at + dt.timedelta(hours=1),
    )
    assert Client().get(f"/p/session/{token}/").status_code == 404
    fresh = links.session_token(Session.objects.get(pk=session.pk))
    frozen_now.shift(dt.timedelta(days=links.SESSION_LINK_DAYS + 1))
    assert Client().get(f"/p/session/{fresh}/").status_code == 404


def test_calendar_download(booked: Any) -> None:
    response = Client().get(f"/p/calendar/{links.calendar_token(booked)}/appointments.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 36
    first = events[0]
    assert first.get("dtstart").params["TZID"] == "America/New_York"
    start = first.decoded("dtstart")
    assert (start.hour, start.minute) == (9, 30)
    text = response.content.decode().lower()
    assert not any(word in text for word in BANNED)
    assert Client().get("/p/calendar/nope/appointments.ics").status_code == 404


def test_an_independent_parser_reads_the_calendars_times_across_dst(
    make_course: Any, chairs: list[Any]
) -> None:
    """The file defines the time zone it names (VTIMEZONE), so a parser that is not the
    library that wrote it (ics.py, on dateutil's VTIMEZONE reader) places every visit
    at the right instant, before and after the clocks change on 14 March 2027."""
    course = make_course(start=dt.date(2027, 3, 1))
    course_schedule(course)
    response = Client().get(f"/p/calendar/{links.calendar_token(course)}/appointments.ics")
    text = response.content.decode()
    assert text.count("BEGIN:VTIMEZONE") == 1
    assert "TZID:America/New_York" in text
    parsed = ics.Calendar(text)
    starts = sorted(event.begin.datetime.astimezone(dt.UTC) for event in parsed.events)
    sessions = Session.objects.filter(course=course).order_by("starts_at")
    assert starts == [session.starts_at for session in sessions]
    new_york = ZoneInfo("America/New_York")
    assert {start.astimezone(new_york).time() for start in starts[1:]} == {dt.time(9, 30)}
    assert {start.hour for start in starts[1:]} == {13, 14}  # 14:30 UTC in EST, 13:30 in EDT


def test_email_reminders_carry_the_link(booked: Any, settings: Any) -> None:
    from notifications import content

    settings.PUBLIC_BASE_URL = "https://cadence.example.org"
    session = _first(booked)
    link = links.session_link(session)
    assert link.startswith("https://cadence.example.org/p/session/")
    email = content.render(
        "day_before",
        "email",
        patient=booked.patient,
        clinic=session.chair.clinic,
        at=session.starts_at,
        link=link,
    )
    sms = content.render(
        "day_before",
        "sms",
        patient=booked.patient,
        clinic=session.chair.clinic,
        at=session.starts_at,
        link=link,
    )
    assert link in email.body
    assert link not in sms.body


def test_a_dead_link_shows_the_clinics_phone(booked: Any, frozen_now: Any) -> None:
    """Moved since, or expired: the link is ours, so the page names the clinic and its
    phone (404 all the same)."""
    session = _first(booked)
    clinic = session.chair.clinic
    token = links.session_token(session)
    Session.objects.filter(pk=session.pk).update(
        starts_at=session.starts_at + dt.timedelta(hours=1),
        ends_at=session.ends_at + dt.timedelta(hours=1),
    )
    response = Client().get(f"/p/session/{token}/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "This link has expired" in text
    assert clinic.display_name in text and content.display_phone(clinic.phone) in text
    assert f'href="tel:{clinic.phone}"' in text


def test_a_forged_link_names_no_clinic_when_there_are_several(
    booked: Any, other_clinic: Any
) -> None:
    session = _first(booked)
    forged = signing.dumps({"s": session.pk, "t": 0}, salt="something-else")
    response = Client().get(f"/p/session/{forged}/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "the clinic that sent you the message" in text
    assert session.chair.clinic.display_name not in text


def test_patient_link_pages_are_never_stored(booked: Any) -> None:
    """Issue 15, item 9: the page names the patient and their appointment, and the token
    in its address is the only credential: no browser or proxy cache may keep it. The
    page also runs under the Content-Security-Policy (its styles are a static file)."""
    session = _first(booked)
    client = Client()
    answers = {
        "page": client.get(f"/p/session/{links.session_token(session)}/"),
        "short link": client.get(f"/p/{links.short_token(session)}", follow=True),
        "after confirming": client.post(
            f"/p/session/{links.session_token(session)}/", {"action": "confirm"}, follow=True
        ),
        "calendar": client.get(f"/p/calendar/{links.calendar_token(booked)}/appointments.ics"),
        "dead link": client.get("/p/session/not-a-token/"),
    }
    for name, response in answers.items():
        assert response.status_code in {200, 404}, name
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= cache_control, name
    policy = answers["page"]["Content-Security-Policy"]
    assert "style-src 'self'" in policy and "script-src 'self'" in policy
    assert b"<style" not in answers["page"].content
    assert b"/static/notifications/patient.css" in answers["page"].content
