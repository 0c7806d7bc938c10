"""The billing pages in Chromium (issue 17, "Procedure codes, authorizations and
superbills"): a clinic admin's billing page and its CSV download, and the patient
page's superbill and re-determination forms, each passing axe-core at 1440 and 390 px."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.urls import reverse
from playwright.sync_api import Page, expect

from clinic.models import Role
from courses.models import CourseStatus
from scheduling.services import course_schedule
from tests.browser.test_patient_pages import _next_monday
from tests.browser.test_screening_and_prescribing import _no_violations_at_both_widths


def test_the_billing_page_exports_a_csv_and_passes_axe(page: Page, login: Any, staff: Any) -> None:
    login(staff(Role.CLINIC_ADMIN))
    page.goto(reverse("billing-page"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Billing")
    _no_violations_at_both_widths(page, "billing")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the period as CSV").click()
    body = download.value.path().read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(body)))
    assert header[:3] == ["clinic_name", "clinic_npi", "clinic_tax_id"]


def test_the_patient_page_billing_forms_pass_axe(
    page: Page, login: Any, staff: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course(start=_next_monday(), status=CourseStatus.ACTIVE)
    course_schedule(course)
    login(staff(Role.FRONT_DESK))
    page.goto(reverse("patient-detail", args=[course.patient_id]))
    expect(page.get_by_role("group", name="Download a superbill")).to_be_visible()
    expect(
        page.get_by_role("group", name="Book a motor threshold re-determination")
    ).to_be_visible()
    _no_violations_at_both_widths(page, "patient-billing")
