"""The patient pages in Chromium (issue 13): axe-core at desktop and phone widths, and a
patient registered with the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from clinic.models import Patient, Role
from notifications.models import ConsentEvent
from scheduling.services import course_schedule
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_patient_pages import _next_monday
from tests.factories import PatientFactory

WIDTHS = (1440, 390)


@pytest.mark.parametrize("width", WIDTHS)
def test_patient_pages_have_no_serious_violations(
    page: Page, login: Any, staff: Any, make_course: Any, chairs: list[Any], width: int
) -> None:
    course = make_course(start=_next_monday())
    course_schedule(course)
    patient = course.patient
    page.set_viewport_size({"width": width, "height": 900})
    login(staff(Role.FRONT_DESK))
    for path, name in (
        ("/patients/", "list"),
        (f"/patients/{patient.pk}/", "page"),
        ("/patients/new/", "register"),
        (f"/patients/{patient.pk}/edit/", "edit"),
    ):
        page.goto(path)
        screenshot(page, f"patient-{name}-{width}")
        assert axe_violations(page) == [], path
    # The duplicate warning, with its links and its checkbox.
    page.goto("/patients/new/")
    page.get_by_label("MRN").fill("DUP-1")
    page.get_by_label("First name").fill(patient.first_name)
    page.get_by_label("Last name").fill(patient.last_name)
    page.get_by_label("Date of birth").fill(patient.date_of_birth.isoformat())
    page.get_by_role("button", name="Register").click()
    expect(
        page.get_by_role("heading", name="This may be a patient already registered")
    ).to_be_visible()
    screenshot(page, f"patient-duplicates-{width}")
    assert axe_violations(page) == []
    # Search as you type replaces the results.
    page.goto("/patients/")
    page.get_by_label("Search").fill(patient.mrn)
    expect(page.locator("#patient-results tbody tr")).to_have_count(1)
    assert axe_violations(page) == []


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element ``selector`` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never took the focus")


def test_front_desk_registers_a_patient_with_the_keyboard_only(
    page: Page, login: Any, staff: Any
) -> None:
    PatientFactory(first_name="Someone", last_name="Else")  # another clinic's patient
    login(staff(Role.FRONT_DESK))
    page.goto("/")
    _tab_to(page, "header nav a[href='/patients/']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/patients/")
    _tab_to(page, "a[href='/patients/new/']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/patients/new/")
    _tab_to(page, "#id_mrn")
    page.keyboard.type("KB-1")
    page.keyboard.press("Tab")
    page.keyboard.type("Kira")
    page.keyboard.press("Tab")
    page.keyboard.type("Bell")
    page.keyboard.press("Tab")
    page.keyboard.type("03021979")  # a date input takes the digits in its locale's order
    _tab_to(page, "#id_phone")
    page.keyboard.type("718 555 0177")
    _tab_to(page, "#id_sms_consent")
    page.keyboard.press("Space")
    _tab_to(page, "form.patient-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kira Bell")
    patient = Patient.objects.get(mrn="KB-1")
    assert (patient.phone, patient.date_of_birth.isoformat()) == ("+17185550177", "1979-03-02")
    assert patient.sms_consent
    assert ConsentEvent.objects.filter(patient=patient, source="staff", granted=True).count() == 1
