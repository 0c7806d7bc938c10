"""The front desk books a prescribed course with the keyboard alone (issue 13: "a
keyboard-only test registers a patient and books a course"; the registering half is
test_patient_records.py's): from the home page, through the patient list's search, the
patient's page and the course's page, to the booking page's preview and confirmation.
No mouse click, no page.goto after the first."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from courses.models import CourseStatus
from scheduling.models import Session, SessionStatus
from tests.browser.conftest import screenshot
from tests.browser.test_patient_pages import _next_monday
from tests.browser.test_patient_records import _tab_to

FOCUS_SHOWN = (
    "() => { const s = getComputedStyle(document.activeElement);"
    " return s.outlineStyle !== 'none' && s.outlineWidth !== '0px'; }"
)


def _tab_and_press(page: Page, selector: str, key: str = "Enter") -> None:
    _tab_to(page, selector)
    assert page.evaluate(FOCUS_SHOWN), f"{selector} has the focus but does not show it"
    page.keyboard.press(key)


def test_front_desk_books_a_prescribed_course_with_the_keyboard_only(
    page: Page, login: Any, front_desk: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course(start=_next_monday())
    patient = course.patient
    assert course.status == CourseStatus.PLANNED and not course.sessions.exists()
    login(front_desk)
    page.goto("/")

    _tab_and_press(page, "header nav a[href='/patients/']")
    page.wait_for_url("**/patients/")
    _tab_to(page, "#patient-q")
    page.keyboard.type(patient.mrn)  # the results narrow as one types
    expect(page.locator("#patient-results tbody tr")).to_have_count(1)
    _tab_and_press(page, f"#patient-results a[href='/patients/{patient.pk}/']")
    page.wait_for_url(f"**/patients/{patient.pk}/")

    _tab_and_press(page, f"main a[href='/courses/{course.pk}/']")
    page.wait_for_url(f"**/courses/{course.pk}/")
    _tab_and_press(page, f"main a[href='/courses/{course.pk}/book/']")
    page.wait_for_url(f"**/courses/{course.pk}/book/")

    _tab_and_press(page, "button[value=preview]")
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    assert not Session.objects.filter(course=course).exists()  # a preview books nothing
    _tab_and_press(page, "button[value=confirm]")
    expect(page.get_by_role("status")).to_contain_text("Course booked: 36 sessions")
    screenshot(page, "keyboard-booking")
    booked = Session.objects.filter(course=course, status=SessionStatus.SCHEDULED)
    assert booked.count() == 36
    first = booked.order_by("starts_at").first()
    assert first is not None
    assert first.starts_at.astimezone(patient.clinic.tz).date() == course.start_date
