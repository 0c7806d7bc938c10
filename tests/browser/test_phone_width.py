"""The patient pages on a phone (issue 13: "layouts that work at 390 px for the patient
pages ... without sideways scrolling"): the patient list, the registration form, the
patient's page, the screening form, the prescribe page and both booking pages, their
previews open, none wider than a 390 px screen."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from playwright.sync_api import Page, expect

from clinic.models import Role
from scheduling.services import course_schedule
from tests.browser.conftest import screenshot
from tests.browser.test_patient_pages import _next_monday
from tests.factories import PatientFactory, catalog_protocol, cleared_screening

PHONE = {"width": 390, "height": 844}
# What scrolls sideways, if anything: the widest elements that stick out of the screen.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const name = (el) => [el.tagName.toLowerCase(), ...(el.id ? [el.id] : []), ...el.classList]
    .join('.');
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > width + 0.5)
    .map((el) => `${name(el)} right=${Math.round(el.getBoundingClientRect().right)}`);
  return {scroll: document.documentElement.scrollWidth, client: width, wide: wide.slice(0, 8)};
}"""


def _fits(page: Page, name: str) -> dict[str, Any]:
    screenshot(page, f"phone-{name}")
    found: dict[str, Any] = page.evaluate(OVERFLOW)
    return {} if found["scroll"] <= found["client"] else {name: found}


def test_the_patient_pages_fit_a_phone_without_sideways_scrolling(
    page: Page,
    login: Any,
    staff: Any,
    make_course: Any,
    chairs: list[Any],
    psychiatrist: Any,
) -> None:
    booked = make_course(start=_next_monday())
    course_schedule(booked)
    planned = make_course(start=_next_monday())
    cleared = PatientFactory(clinic=booked.patient.clinic)
    cleared_screening(cleared, by=psychiatrist)
    page.set_viewport_size(PHONE)
    too_wide: dict[str, Any] = {}

    login(staff(Role.FRONT_DESK))
    for name, path in (
        ("patient-list", reverse("patient-list")),
        ("patient-new", reverse("patient-register")),
        ("patient-page", reverse("patient-detail", args=[booked.patient.pk])),
    ):
        page.goto(path)
        too_wide |= _fits(page, name)

    # The booking page of a new course, previewed.
    page.goto(f"{reverse('course-book')}?patient={cleared.pk}")
    too_wide |= _fits(page, "course-book")
    page.get_by_label("Protocol").select_option(str(catalog_protocol("10hz-standard").pk))
    page.get_by_label("Psychiatrist").select_option(str(psychiatrist.pk))
    page.get_by_label("Indication").select_option("mdd")
    page.get_by_label("Start date").fill(_next_monday().isoformat())
    page.get_by_label("Preferred time").fill("10:00")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    too_wide |= _fits(page, "course-book-preview")

    # The booking page of a prescribed course, previewed.
    page.goto(reverse("course-schedule", args=[planned.pk]))
    too_wide |= _fits(page, "course-schedule")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    too_wide |= _fits(page, "course-schedule-preview")

    page.context.clear_cookies()
    login(psychiatrist)
    patient = PatientFactory(clinic=booked.patient.clinic)
    page.goto(f"{reverse('screening-new')}?patient={patient.pk}")
    too_wide |= _fits(page, "screening-new")
    page.goto(f"{reverse('course-prescribe')}?patient={cleared.pk}")
    too_wide |= _fits(page, "course-prescribe")
    page.get_by_label("Protocol").select_option(str(catalog_protocol("10hz-standard").pk))
    page.get_by_label("Indication").select_option("mdd")
    page.get_by_label("Start date").fill(_next_monday().isoformat())
    page.get_by_label("Preferred time").fill("10:00")
    page.get_by_role("button", name="Prescribe and book now").click()
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    too_wide |= _fits(page, "course-prescribe-preview")

    assert too_wide == {}, json.dumps(too_wide, indent=1)
