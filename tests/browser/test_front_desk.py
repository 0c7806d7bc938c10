"""Front desk logs in, books a 36-session course for a cleared patient, sees it on the
day board and checks the patient in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from playwright.sync_api import Page, expect

from courses.models import TreatmentCourse
from scheduling.models import Session, SessionStatus
from tests.browser.conftest import axe_violations, screenshot
from tests.factories import PatientFactory, catalog_protocol, cleared_screening

# Monday 11 January 2027, 09:15 in New York: the clinic's morning, before the first
# session at 10:00 and within its check-in window (an hour before, by default).
MONDAY_MORNING = dt.datetime(2027, 1, 11, 14, 15, tzinfo=dt.UTC)


def test_front_desk_books_a_course_sees_it_on_the_board_and_checks_in(
    page: Page, login: Any, front_desk: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        patient = PatientFactory(clinic=front_desk.memberships.get().clinic)
        cleared_screening(patient, by=psychiatrist)
        others = [PatientFactory(clinic=patient.clinic) for _ in range(3)]
        protocol = catalog_protocol("10hz-standard")

        login(front_desk)
        page.get_by_role("link", name="Book a course").click()
        expect(page.get_by_role("heading", name="Book a course")).to_be_visible()
        # Typing in the search narrows the patient list in place.
        picker = page.get_by_label("Patient", exact=True)
        expect(picker.locator("option")).to_have_count(5)
        page.get_by_label("Find a patient").fill(patient.mrn)
        expect(picker.locator("option")).to_have_count(2)  # "Choose a patient" and the one
        expect(page.locator("#patient-picker-note")).to_contain_text("1 patient match")
        assert all(other.mrn not in picker.inner_text() for other in others)
        picker.select_option(str(patient.pk))
        expect(page.locator("#patient-status")).to_contain_text("leared")
        page.get_by_label("Protocol").select_option(str(protocol.pk))
        page.get_by_label("Psychiatrist").select_option(str(psychiatrist.pk))
        page.get_by_label("Indication").select_option("mdd")
        page.get_by_label("Start date").fill("2027-01-11")
        page.get_by_label("Preferred time").fill("10:00")
        assert axe_violations(page) == []
        page.get_by_role("button", name="Preview").click()

        expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
        assert Session.objects.count() == 0  # a preview books nothing
        page.get_by_role("button", name="Confirm booking of 36 sessions").click()
        expect(page.get_by_role("status")).to_contain_text("36")
        course = TreatmentCourse.objects.get(patient=patient)
        assert Session.objects.filter(course=course).count() == 36

        page.get_by_role("link", name="Day board").click()
        block = page.locator(
            "[id^=session-]", has_text=f"{patient.first_name} {patient.last_name[0]}."
        )
        expect(block).to_contain_text("1")
        expect(block).to_contain_text("36")
        expect(block).to_contain_text("Scheduled")
        screenshot(page, "board")
        assert axe_violations(page) == []

        block.get_by_role("button", name="Check in").click()
        expect(block).to_contain_text("Checked in")
        first = Session.objects.filter(course=course).order_by("starts_at").first()
        assert first is not None and first.status == SessionStatus.CHECKED_IN


def test_front_desk_sees_the_sessions_beyond_the_authorization_before_booking(
    page: Page, login: Any, front_desk: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    """A 30-session authorization for a 36-session course: the preview says which six
    fall outside it and that they are booked pending authorization (the default)."""
    with time_machine.travel(MONDAY_MORNING, tick=True):
        patient = PatientFactory(clinic=front_desk.memberships.get().clinic)
        cleared_screening(patient, by=psychiatrist)
        login(front_desk)
        page.goto(f"/courses/book/?patient={patient.pk}")
        page.get_by_label("Protocol").select_option(str(catalog_protocol("10hz-standard").pk))
        page.get_by_label("Psychiatrist").select_option(str(psychiatrist.pk))
        page.get_by_label("Indication").select_option("mdd")
        page.get_by_label("Start date").fill("2027-01-11")
        page.get_by_label("Preferred time").fill("10:00")
        page.get_by_label("Payer").fill("Aetna")
        page.get_by_label("Authorization number").fill("PA-1")
        page.get_by_label("Sessions authorized").fill("30")
        page.get_by_label("Valid from").fill("2027-01-01")
        page.get_by_label("Valid until").fill("2027-12-31")
        page.get_by_role("button", name="Preview").click()

        notice = page.locator("#outside-authorization")
        expect(notice).to_contain_text("6 sessions fall outside the payer authorization")
        expect(notice).to_contain_text("pending authorization")
        rows = page.locator("tr.outside-authorization")
        expect(rows).to_have_count(6)
        expect(rows.first).to_contain_text("Beyond the 30 authorized sessions")
        screenshot(page, "booking-beyond-authorization")
        assert axe_violations(page) == []
        page.get_by_role("button", name="Confirm booking of 36 sessions").click()
        expect(page.get_by_text("6 of them are pending authorization")).to_be_visible()
        course = TreatmentCourse.objects.get(patient=patient)
        assert Session.objects.filter(course=course, pending_authorization=True).count() == 6
