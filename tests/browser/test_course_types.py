"""Course types and plan changes in Chromium: a psychiatrist prescribes a maintenance
course that follows the patient's ended acute course and books it after the preview,
lengthens it (previewed, then confirmed; the change on the course page), and previews
a protocol switch. Every new page and state passes axe-core at 1440 and 390 px."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from courses.models import CourseChange, CourseStatus, CourseType, TreatmentCourse
from scheduling.models import Session
from tests.browser.test_patient_pages import _next_monday
from tests.browser.test_screening_and_prescribing import _no_violations_at_both_widths
from tests.factories import catalog_protocol


def test_maintenance_course_prescribed_lengthened_and_switch_previewed(
    page: Page, login: Any, psychiatrist: Any, make_course: Any, chairs: list[Any]
) -> None:
    acute = make_course(
        status=CourseStatus.COMPLETED, completed_on=timezone.localdate() - dt.timedelta(days=3)
    )
    monday = _next_monday()
    login(psychiatrist)

    # Prescribe the maintenance course that follows the acute one, booked at once.
    page.goto(f"{reverse('course-prescribe')}?patient={acute.patient_id}")
    expect(page.locator("#protocol-plans")).to_contain_text("1 every 4 weeks")
    page.get_by_label("Protocol").select_option(str(catalog_protocol("maintenance-10hz").pk))
    page.get_by_label("Course type").select_option(CourseType.MAINTENANCE)
    page.get_by_label("Follows").select_option(str(acute.pk))
    page.get_by_label("Indication").select_option("mdd")
    page.get_by_label("Start date").fill(monday.isoformat())
    page.get_by_label("Preferred time").fill("09:30")
    _no_violations_at_both_widths(page, "course-prescribe-maintenance")
    page.get_by_role("button", name="Prescribe and book now").click()
    expect(page.get_by_role("heading", name="Preview: 11 sessions")).to_be_visible()
    page.get_by_role("button", name="Confirm: prescribe and book 11 sessions").click()
    expect(page.get_by_role("status")).to_contain_text("11 sessions booked")
    course = TreatmentCourse.objects.get(patient=acute.patient, type=CourseType.MAINTENANCE)
    assert course.follows == acute
    expect(page.locator("#course-type")).to_contain_text("Maintenance course")
    page.locator("#risk-rules summary").click()
    expect(page.locator("#risk-rules")).to_contain_text("later than due is worth watching")
    _no_violations_at_both_widths(page, "course-maintenance")

    # Lengthen it by two sessions, after the preview.
    page.get_by_role("link", name="Lengthen the course").click()
    _no_violations_at_both_widths(page, "course-lengthen")
    page.get_by_label("Sessions to add").fill("2")
    page.get_by_label("Reason").fill("Symptoms returned between visits")
    page.get_by_role("button", name="Preview the re-planned sessions").click()
    expect(page.locator("#replan-preview tbody tr")).to_have_count(13)
    _no_violations_at_both_widths(page, "course-lengthen-preview")
    assert not CourseChange.objects.exists()
    page.get_by_role("button", name="Confirm: lengthen the course").click()
    expect(page.get_by_role("status")).to_contain_text("2 sessions added")
    expect(page.locator("#plan-changes")).to_contain_text("Symptoms returned between visits")
    assert Session.objects.filter(course=course, status="scheduled").count() == 13
    _no_violations_at_both_widths(page, "course-plan-changes")

    # Preview a switch to iTBS (not confirmed).
    page.get_by_role("link", name="Switch protocol").click()
    _no_violations_at_both_widths(page, "course-switch-protocol")
    page.get_by_label("Protocol").select_option(str(catalog_protocol("itbs").pk))
    page.get_by_label("Reason").fill("Shorter visits")
    page.get_by_role("button", name="Preview the re-planned sessions").click()
    expect(page.get_by_role("button", name="Confirm: switch the protocol")).to_be_visible()
    _no_violations_at_both_widths(page, "course-switch-protocol-preview")
    course.refresh_from_db()
    assert course.protocol.code == "maintenance-10hz"
