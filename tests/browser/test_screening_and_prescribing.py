"""A psychiatrist's week in Chromium with no API call (issue 13, "Screening and
prescribing"): records a screening (adding a failed-trial row, answering every safety
question), clears it, prescribes a course with an authorization and books it at once
after the preview, then pauses the course (releasing the sessions inside the pause)
and resumes it from a later day after the preview. Every new page passes axe-core at
1440 and 390 px wide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from playwright.sync_api import Page, expect

from courses.models import CourseStatus, ScreeningStatus, TreatmentCourse
from courses.screening_forms import QUESTIONS
from scheduling.models import Session, SessionKind, SessionStatus
from scheduling.services import course_schedule
from scheduling.services.course_status import PAUSE_REASON
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_patient_pages import _next_monday
from tests.factories import PatientFactory, ScreeningFactory, catalog_protocol

WIDTHS = (1440, 390)


def _no_violations_at_both_widths(page: Page, name: str) -> None:
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        violations = axe_violations(page)
        if violations:
            found[width] = violations
        screenshot(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1440, "height": 900})
    assert found == {}, name


def _fill_trial(page: Page, n: int, drug: str) -> None:
    trial = page.get_by_role("group", name=f"Trial {n}")
    trial.get_by_label("Drug").fill(drug)
    trial.get_by_label("Dose").fill("150 mg daily")
    trial.get_by_label("Weeks").fill("8")
    trial.get_by_label("Outcome").select_option("no_response")


def test_psychiatrist_screens_clears_prescribes_books_pauses_and_resumes(
    page: Page, login: Any, psychiatrist: Any, chairs: list[Any], clinic: Any
) -> None:
    patient = PatientFactory(clinic=clinic)
    monday = _next_monday()
    login(psychiatrist)

    # Record the screening: two failed trials (the second row added on the page).
    page.goto(f"{reverse('screening-new')}?patient={patient.pk}")
    _no_violations_at_both_widths(page, "screening-new")
    _fill_trial(page, 1, "sertraline")
    page.get_by_role("button", name="Add a trial").click()
    expect(page.get_by_role("group", name="Trial 2")).to_be_visible()
    _fill_trial(page, 2, "bupropion")
    for label in QUESTIONS.values():
        page.get_by_role("group", name=label).get_by_label("No").check()
    page.get_by_label("Current medications").fill("lithium 300 mg twice daily")
    page.get_by_role("button", name="Save the screening").click()
    expect(page.get_by_role("status")).to_contain_text("Screening recorded.")

    # Clear it.
    _no_violations_at_both_widths(page, "screening-detail")
    page.get_by_role("button", name="Clear for treatment").click()
    expect(page.locator("#screening-status")).to_have_text("Cleared")
    assert patient.screenings.get().status == ScreeningStatus.CLEARED

    # Prescribe with an authorization, and book it at once after the preview.
    page.get_by_role("link", name="Prescribe a course").click()
    _no_violations_at_both_widths(page, "course-prescribe")
    expect(page.locator("#protocol-plans")).to_contain_text("sessions, 5 a week")
    page.get_by_label("Protocol").select_option(str(catalog_protocol("10hz-standard").pk))
    page.get_by_label("Indication").select_option("mdd")
    page.get_by_label("Start date").fill(monday.isoformat())
    page.get_by_label("Preferred time").fill("09:30")
    page.get_by_label("Payer").fill("Aetna")
    page.get_by_label("Authorization number").fill("PA-77")
    page.get_by_label("Sessions authorized").fill("36")
    page.get_by_label("Valid from").fill(monday.isoformat())
    page.get_by_label("Valid until").fill((monday + dt.timedelta(days=120)).isoformat())
    page.get_by_role("button", name="Prescribe and book now").click()
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    _no_violations_at_both_widths(page, "course-prescribe-preview")
    assert not TreatmentCourse.objects.filter(patient=patient).exists()
    page.get_by_role("button", name="Confirm: prescribe and book 36 sessions").click()
    expect(page.get_by_role("status")).to_contain_text("36 sessions booked")
    course = TreatmentCourse.objects.get(patient=patient)
    assert course.authorizations.get().number == "PA-77"
    # Session 1 is checked in on the technician's page on its day (the front desk's and
    # technician's tests drive that); the check-in makes the course active, as here.
    TreatmentCourse.objects.filter(pk=course.pk).update(status=CourseStatus.ACTIVE)
    page.reload()

    # Pause from the third week, releasing the sessions inside it.
    pause_from = monday + dt.timedelta(days=14)
    page.get_by_role("link", name="Pause the course").click()
    page.get_by_label("Show the sessions inside a pause from").fill(pause_from.isoformat())
    page.get_by_role("button", name="Show").click()
    inside = Session.objects.filter(course=course, starts_at__date__gte=pause_from).count()
    expect(page.locator("#sessions-in-pause li")).to_have_count(inside)
    _no_violations_at_both_widths(page, "course-pause")
    page.locator("#id_from_date").fill(pause_from.isoformat())  # the pause form's own field
    page.get_by_label("Release them").check()
    page.get_by_label("Reason").fill("Surgery")
    page.get_by_role("button", name="Pause the course").click()
    expect(page.get_by_role("status")).to_contain_text(f"{inside} booked session(s) released")
    course.refresh_from_db()
    assert course.status == CourseStatus.PAUSED
    assert Session.objects.filter(course=course, cancel_reason=PAUSE_REASON).count() == inside

    # Resume two weeks later, after the preview.
    resume_from = pause_from + dt.timedelta(days=14)
    page.get_by_role("link", name="Resume the course").click()
    _no_violations_at_both_widths(page, "course-resume")
    page.get_by_label("Re-plan from").fill(resume_from.isoformat())
    page.get_by_role("button", name="Preview the re-planned sessions").click()
    expect(page.locator("#resume-preview li")).to_have_count(inside)
    _no_violations_at_both_widths(page, "course-resume-preview")
    page.get_by_role("button", name="Confirm: resume the course").click()
    expect(page.get_by_role("status")).to_contain_text(f"{inside} session(s) re-planned")
    course.refresh_from_db()
    assert course.status == CourseStatus.ACTIVE
    replanned = Session.objects.filter(
        course=course, kind=SessionKind.MAKEUP, status=SessionStatus.SCHEDULED
    )
    assert replanned.count() == inside
    assert min(s.starts_at.date() for s in replanned) >= resume_from


def test_the_other_new_pages_pass_axe(
    page: Page, login: Any, psychiatrist: Any, make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    """The contraindicated screening, complete, discontinue and the authorization form."""
    course = make_course(start=_next_monday(), status=CourseStatus.ACTIVE)
    course_schedule(course)
    blocked = ScreeningFactory(patient=PatientFactory(clinic=clinic), metal_in_head=True)
    login(psychiatrist)
    page.goto(reverse("screening-detail", args=[blocked.pk]))
    expect(page.locator("#cannot-clear")).to_contain_text("cannot be cleared")
    expect(page.get_by_role("button", name="Clear for treatment")).to_have_count(0)
    _no_violations_at_both_widths(page, "screening-contraindicated")
    for path, name in (
        (reverse("course-action", args=[course.pk, "complete"]), "course-complete"),
        (reverse("course-action", args=[course.pk, "discontinue"]), "course-discontinue"),
        (reverse("course-authorization-add", args=[course.pk]), "course-authorization"),
    ):
        page.goto(path)
        _no_violations_at_both_widths(page, name)


def test_booking_a_prescribed_course_passes_axe(
    page: Page, login: Any, front_desk: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course(start=_next_monday())
    login(front_desk)
    page.goto(reverse("course-detail", args=[course.pk]))
    page.get_by_role("link", name="Book all its sessions").click()
    _no_violations_at_both_widths(page, "course-schedule")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    _no_violations_at_both_widths(page, "course-schedule-preview")
    page.get_by_role("button", name="Confirm booking of 36 sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Course booked: 36 sessions")
