"""axe-core, run in Chromium on every staff page (as a clinic admin, who sees them all)
and on the login page: no serious or critical violations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic import tokens
from clinic.models import Role
from clinic.web import NAVIGATION
from courses.models import CourseStatus
from notifications.models import PatientReply
from scheduling.models import Session, SessionStatus, TreatmentRecord
from scheduling.services import course_schedule
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_patient_pages import _next_monday
from tests.browser.test_phone_width import OVERFLOW
from tests.browser.test_screening_and_prescribing import _no_violations_at_both_widths
from tests.factories import ChairBlockFactory, SessionFactory

WEEKDAY_NOON = dt.datetime(2027, 1, 13, 17, 0, tzinfo=dt.UTC)  # Wednesday, noon in New York


def test_the_login_page_has_no_serious_violations(page: Page) -> None:
    page.goto("/accounts/login/")
    assert axe_violations(page) == []


def test_the_account_pages_have_no_serious_violations(
    page: Page, login: Any, staff: Any, settings: Any
) -> None:
    """The reset form, the page a lockout shows, the password change page and the
    API tokens page."""
    settings.AXES_FAILURE_LIMIT = 1
    page.goto("/accounts/password/reset/")
    assert axe_violations(page) == []
    page.goto("/accounts/login/")
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Login blocked for now"
    assert axe_violations(page) == []
    settings.AXES_FAILURE_LIMIT = 5
    person = staff(Role.FRONT_DESK)
    login(person)  # one failure is under the limit again
    tokens.new_token(person, "Front desk iPad")  # after login() set the password
    page.goto("/accounts/password/change/")
    assert axe_violations(page) == []
    page.goto("/accounts/tokens/")
    assert page.locator("td", has_text="Front desk iPad").count() == 1
    assert axe_violations(page) == []
    screenshot(page, "api-tokens")


def test_every_staff_page_has_no_serious_violations(
    page: Page, login: Any, staff: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course(start=_next_monday())
    course_schedule(course)
    session = Session.objects.filter(course=course).order_by("starts_at").first()
    assert session is not None
    # A text to handle: the inbox shows a row with its button, the navigation a count.
    PatientReply.objects.create(
        clinic=course.patient.clinic, patient=course.patient, body="running late"
    )
    login(staff(Role.CLINIC_ADMIN))
    day = session.starts_at.astimezone(course.patient.clinic.tz).date().isoformat()
    paths = [reverse("home")]
    paths += [reverse(name) for _, name, _ in NAVIGATION]
    paths += [
        f"{reverse('board-page')}?date={day}",
        reverse("course-detail", args=[course.pk]),
        reverse("session-move", args=[session.pk]),
    ]
    found = {}
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    assert found == {}


def test_the_check_does_find_violations(page: Page) -> None:
    """The control: an unlabelled input and an image without text are caught."""
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main>'
        '<input type="text"><img src="x.png"></main></body></html>'
    )
    assert {"label", "image-alt"} <= {violation["id"] for violation in axe_violations(page)}


def test_keyboard_focus_is_visible(page: Page, login: Any, staff: Any) -> None:
    login(staff(Role.FRONT_DESK))
    page.goto(reverse("board-page"))
    for _ in range(4):  # the first links and controls of the page, by keyboard
        page.keyboard.press("Tab")
        outline = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]; }"
        )
        assert outline[0] in {"A", "BUTTON", "INPUT", "SELECT"}
        assert outline[1] != "none" and outline[2] not in {"0px", ""}, outline


def test_the_treatment_record_form_and_the_records_beside_the_prescription_pass(
    page: Page, login: Any, staff: Any, make_course: Any, chairs: list[Any]
) -> None:
    """The technician's record form (from the prescription, with the deviation reason)
    and the course page's records as a psychiatrist (with the prescription form)."""
    # A weekday at noon in New York: "today's" list holds a session that began ten
    # minutes ago (at ten past midnight there it would be yesterday's).
    with time_machine.travel(WEEKDAY_NOON, tick=True):
        course = make_course(prescribed_coil_position="F3 (Beam method)")
        now = timezone.now()
        technician = staff(Role.TECHNICIAN)
        done = SessionFactory(
            course=course,
            chair=chairs[0],
            starts_at=now - dt.timedelta(days=1),
            ends_at=now - dt.timedelta(days=1) + dt.timedelta(minutes=40),
            status=SessionStatus.COMPLETED,
        )
        TreatmentRecord.objects.create(
            session=done,
            technician=technician,
            pulses_delivered=2000,
            intensity_pct_mt=120,
            coil_position="F3 (Beam method)",
            deviations=["pulses_low"],
            deviation_reason="Stopped early: scalp discomfort",
        )
        SessionFactory(
            course=course,
            chair=chairs[0],
            starts_at=now - dt.timedelta(minutes=10),
            ends_at=now + dt.timedelta(minutes=30),
            status=SessionStatus.CHECKED_IN,
        )
        login(technician)
        page.goto(reverse("technician-today"))
        page.get_by_label("Reason for any deviation from the prescription").wait_for()
        screenshot(page, "treatment-record-form")
        assert axe_violations(page) == []

        page.context.clear_cookies()
        login(staff(Role.PSYCHIATRIST))
        page.goto(reverse("course-detail", args=[course.pk]))
        page.get_by_text("Stopped early: scalp discomfort").wait_for()
        page.get_by_text("Change the prescription").click()
        screenshot(page, "course-records")
        assert axe_violations(page) == []


def test_the_booster_page_and_its_refusals_pass_at_both_widths(
    page: Page, login: Any, psychiatrist: Any, make_course: Any, chairs: list[Any]
) -> None:
    """The booster page (tests/browser/test_booster.py books one) with a conflict shown,
    and as an open course's page answers: no form, and why."""
    ended = timezone.localdate() - dt.timedelta(days=3)
    acute = make_course(
        start=ended - dt.timedelta(days=42), status=CourseStatus.COMPLETED, completed_on=ended
    )
    first, tz = _next_monday(), acute.patient.clinic.tz
    tuesday = first + dt.timedelta(days=1)
    for chair in chairs:  # every chair taken on the booster's second day
        ChairBlockFactory(
            chair=chair,
            starts_at=dt.datetime.combine(tuesday, dt.time(7), tzinfo=tz),
            ends_at=dt.datetime.combine(tuesday, dt.time(19), tzinfo=tz),
        )
    login(psychiatrist)
    page.goto(reverse("course-booster", args=[acute.pk]))
    page.get_by_label("First day").fill(first.isoformat())
    page.get_by_role("button", name="Preview the sessions").click()
    expect(page.locator("#booster-conflicts")).to_contain_text("no chair is free")
    _no_violations_at_both_widths(page, "booster-conflict")
    active = make_course(start=_next_monday(), status=CourseStatus.ACTIVE)
    page.goto(reverse("course-booster", args=[active.pk]))
    expect(page.get_by_role("alert")).to_contain_text("a booster follows a completed")
    _no_violations_at_both_widths(page, "booster-open-course")


def test_the_waitlist_and_the_capacity_forecast_pass_at_desk_and_phone_widths(
    page: Page, login: Any, staff: Any, make_course: Any, chairs: list[Any]
) -> None:
    """The waitlist with an entry and its offer, and the forecast with its chart and
    tables: axe-clean at 1440 and 390 px, and nothing scrolls the page sideways."""
    from scheduling.models import WaitlistEntry
    from scheduling.services import waitlist_add, waitlist_refresh

    start = _next_monday()
    course_schedule(make_course(start=start))
    entry = waitlist_add(make_course(start=start), by=None, preferred_time=dt.time(10))
    waitlist_refresh(entry.clinic_id)
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_start=start)
    make_course(start=start)  # one more course that could wait: the form lists it
    login(staff(Role.FRONT_DESK))
    found = {}
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name in ("waitlist-page", "capacity-forecast-page", "board-page"):
            response = page.goto(reverse(name))
            assert response is not None and response.status == 200, name
            if name == "waitlist-page":  # the entry, its offer and its one-action booking
                assert (
                    page.get_by_role("button", name=f"Book from {start.day} {start:%b}").count()
                    == 1
                )
            violations = axe_violations(page)
            if violations:
                found[f"{name}@{width}"] = violations
            wide = page.evaluate(OVERFLOW)
            if wide["scroll"] > wide["client"]:
                found[f"{name}@{width} scrolls sideways"] = wide
            screenshot(page, f"{name}-{width}")
    assert found == {}
