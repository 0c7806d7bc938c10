"""A patient confirms a session from the signed link in a reminder; a tampered link is
refused. No login; nothing clinical on the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from notifications import links
from scheduling.models import Session
from scheduling.services import course_schedule
from tests.browser.conftest import axe_violations

BANNED = ("tms", "magnetic", "depress", "psychiatr", "diagnos", "protocol", "10hz")


def _next_monday() -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=7 - today.weekday())


def test_patient_confirms_a_session_from_the_link(
    page: Page, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course(start=_next_monday())
    course_schedule(course)
    session = Session.objects.filter(course=course).order_by("starts_at").first()
    assert session is not None

    page.goto(f"/p/session/{links.session_token(session)}/")
    expect(page.get_by_role("heading", name=f"Hi {course.patient.first_name}")).to_be_visible()
    body = page.locator("body").inner_text().lower()
    assert not [word for word in BANNED if word in body]
    assert course.patient.last_name.lower() not in body
    assert axe_violations(page) == []

    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text("Thank you, your appointment is confirmed.")
    expect(page.get_by_text("You have confirmed this appointment.")).to_be_visible()
    session.refresh_from_db()
    assert session.patient_confirmed_at is not None

    with page.expect_download() as download:
        page.get_by_role("link", name="Add all your upcoming appointments").click()
    assert download.value.suggested_filename == "appointments.ics"


def test_a_tampered_link_is_refused(page: Page, make_course: Any, chairs: list[Any]) -> None:
    course = make_course(start=_next_monday())
    course_schedule(course)
    session = Session.objects.filter(course=course).order_by("starts_at").first()
    assert session is not None
    token = links.session_token(session)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")

    response = page.goto(f"/p/session/{tampered}/")
    assert response is not None and response.status == 404
    assert "confirm" not in page.locator("body").inner_text().lower()
    session.refresh_from_db()
    assert session.patient_confirmed_at is None
