"""axe-core, run in Chromium on every staff page (as a clinic admin, who sees them all)
and on the login page: no serious or critical violations."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from playwright.sync_api import Page

from clinic.models import Role
from clinic.web import NAVIGATION
from notifications.models import PatientReply
from scheduling.models import Session
from scheduling.services import course_schedule
from tests.browser.conftest import axe_violations
from tests.browser.test_patient_pages import _next_monday


def test_the_login_page_has_no_serious_violations(page: Page) -> None:
    page.goto("/accounts/login/")
    assert axe_violations(page) == []


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
