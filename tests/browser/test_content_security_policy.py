"""The Content-Security-Policy in a real browser (issue 15, item 9): every main page,
the patient link page, the Django admin and the API docs load under it without a single
violation, and htmx still works (it must neither inject its indicator <style> nor need
eval). A page that broke the policy would lose its styles or scripts silently; Chromium
reports each refusal on the console ("Refused to ...") and as a securitypolicyviolation
event, and both are collected here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from clinic.models import Role
from notifications import links
from scheduling.models import Session
from scheduling.services import course_schedule
from tests.browser.conftest import log_in_through_the_pages
from tests.browser.test_patient_pages import _next_monday
from tests.factories import PatientFactory

# Recorded from the start of every document, before the page's own scripts run (an init
# script is the browser's, not the page's: the policy does not apply to it).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"}` +
      ` (${event.sourceFile}:${event.lineNumber})`
  );
});
"""


class Watched:
    """A page whose console refusals and violation events are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if "Refused to" in message.text or "Content Security Policy" in message.text:
            self.console.append(message.text)

    def visit(self, path: str) -> None:
        """Load ``path``: it answers 200 under Cadence's policy and breaks none of it."""
        response = self.page.goto(path)
        assert response is not None and response.status == 200, path
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        self.page.wait_for_load_state("networkidle")
        self.assert_clean(path)

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__cspViolations || []")
        return found + self.console

    def assert_clean(self, where: str) -> None:
        assert self.violations() == [], where


@pytest.fixture
def watched(page: Page) -> Iterator[Watched]:
    page.context.add_init_script(RECORD_VIOLATIONS)
    yield Watched(page)


def _log_in(watched: Watched, user: Any) -> None:
    log_in_through_the_pages(watched.page, user)  # the login and second-factor pages
    watched.assert_clean(f"after logging in {user.username}")


def test_every_main_page_loads_under_the_policy_without_a_violation(
    watched: Watched,
    staff: Any,
    superuser: Any,
    make_course: Any,
    chairs: list[Any],
    psychiatrist: Any,
) -> None:
    course = make_course(start=_next_monday())
    course_schedule(course)
    session = Session.objects.filter(course=course).order_by("starts_at").first()
    assert session is not None
    clinic = course.patient.clinic
    day = session.starts_at.astimezone(clinic.tz).date().isoformat()

    # The patient's link from a text: no login.
    watched.visit(f"/p/session/{links.session_token(session)}/")

    # A clinic admin opens every page of the navigation (board, patients, set-up, ...).
    _log_in(watched, staff(Role.CLINIC_ADMIN))
    for path in [
        reverse("board-page"),
        f"{reverse('board-page')}?date={day}",
        reverse("patient-list"),
        reverse("patient-detail", args=[course.patient.pk]),
        reverse("course-detail", args=[course.pk]),
        reverse("setup-clinic"),
        reverse("setup-reminders"),
        reverse("outcomes-report"),
        reverse("audit-page"),
        reverse("closures-page"),
    ]:
        watched.visit(path)

    _log_in(watched, psychiatrist)  # the course's psychiatrist: courses on the dashboard
    watched.visit(reverse("psychiatrist-dashboard"))
    watched.visit(reverse("course-detail", args=[course.pk]))

    _log_in(watched, staff(Role.TECHNICIAN))
    watched.visit(reverse("technician-today"))

    # The operators' Django admin and the interactive API docs keep working.
    _log_in(watched, superuser)
    watched.visit("/admin/")
    watched.visit("/admin/clinic/patient/")
    watched.visit(f"/admin/clinic/patient/{course.patient.pk}/change/")
    watched.visit("/api/docs/")
    # Swagger UI ran (its start-up script is a separate file) and read the schema.
    expect(watched.page.locator(".swagger-ui .info .title")).to_contain_text("Cadence API")
    expect(watched.page.locator(".opblock").first).to_be_visible()
    watched.assert_clean("/api/docs/ once Swagger UI has rendered")


def test_htmx_still_works_under_the_policy(watched: Watched, staff: Any, clinic: Any) -> None:
    """Search as you type on the patient list: an htmx GET swapping the results."""
    wanted = PatientFactory(clinic=clinic, last_name="Quillfeather")
    PatientFactory.create_batch(3, clinic=clinic)
    _log_in(watched, staff(Role.FRONT_DESK))
    watched.visit(reverse("patient-list"))
    results = watched.page.locator("#patient-results")
    expect(results.get_by_role("status")).to_contain_text("4 patients")
    watched.page.get_by_label("Search").fill("Quillfeather")
    expect(results.get_by_role("status")).to_contain_text("1 patient matching")
    expect(results.get_by_role("link", name=f"Quillfeather, {wanted.first_name}")).to_be_visible()
    # No <style> of htmx's own: the indicator rules come from cadence.css.
    assert watched.page.locator("head style").count() == 0
    watched.assert_clean("after the htmx search")


def test_the_check_does_catch_a_violation(watched: Watched, staff: Any) -> None:
    """The control: an inline style attribute swapped into a page is refused and seen."""
    _log_in(watched, staff(Role.FRONT_DESK))
    watched.visit(reverse("patient-list"))
    watched.page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')"
    )
    watched.page.wait_for_function("window.__cspViolations.length > 0")
    assert any("style-src" in violation for violation in watched.violations())
