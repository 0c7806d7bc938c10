"""The one-action booster course in Chromium, with the keyboard alone: a psychiatrist
opens an ended acute course, follows "Book a booster course", previews its sessions
and confirms, landing on the new booster's page (the relapse list links to the same
page). Each state passes axe-core at 1440 and 390 px (test_accessibility.py checks the
refusals)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from courses.models import CourseStatus, CourseType, TreatmentCourse
from scheduling.models import Session, SessionStatus
from tests.browser.test_keyboard_booking import _tab_and_press
from tests.browser.test_screening_and_prescribing import _no_violations_at_both_widths
from tests.factories import MotorThresholdFactory, catalog_protocol


def test_a_psychiatrist_previews_then_books_a_booster_with_the_keyboard(
    page: Page, login: Any, psychiatrist: Any, make_course: Any, chairs: list[Any]
) -> None:
    ended = timezone.localdate() - dt.timedelta(days=3)
    acute = make_course(
        start=ended - dt.timedelta(days=42), status=CourseStatus.COMPLETED, completed_on=ended
    )
    MotorThresholdFactory(course=acute, measured_on=ended - dt.timedelta(days=40))
    login(psychiatrist)
    page.goto(f"/courses/{acute.pk}/")

    _tab_and_press(page, f"#course-actions a[href='/courses/{acute.pk}/booster/']")
    page.wait_for_url(f"**/courses/{acute.pk}/booster/")
    expect(page.get_by_label("Protocol")).to_have_value(
        str(catalog_protocol("booster-10hz-week").pk)
    )
    expect(page.get_by_label("Preferred time")).to_have_value("09:30")
    _no_violations_at_both_widths(page, "booster-form")

    _tab_and_press(page, "#booster-form button[value=preview]")
    expect(page.get_by_role("heading", name="Preview: 5 sessions")).to_be_visible()
    expect(page.locator("#booster-preview tbody tr")).to_have_count(5)
    expect(page.locator("#booster-preview")).to_contain_text("is reused")
    assert not TreatmentCourse.objects.filter(type=CourseType.BOOSTER).exists()
    _no_violations_at_both_widths(page, "booster-preview")

    _tab_and_press(page, "#booster-confirm button[value=confirm]")
    expect(page.get_by_role("status")).to_contain_text(
        "Booster course prescribed and 5 sessions booked"
    )
    booster = TreatmentCourse.objects.get(type=CourseType.BOOSTER)
    page.wait_for_url(f"**/courses/{booster.pk}/")
    assert (booster.follows, booster.psychiatrist) == (acute, psychiatrist)
    assert Session.objects.filter(course=booster, status=SessionStatus.SCHEDULED).count() == 5
    expect(page.locator("#course-type")).to_contain_text("Booster course")
    _no_violations_at_both_widths(page, "booster-booked")
