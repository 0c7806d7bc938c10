"""The questionnaire's other pages in Chromium: missing answers asked again, the help
an answer of item 9 above 0 brings, and a dead link; each passes axe-core at 390 and
1440 px, and the help's phone links work as links."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from playwright.sync_api import Page

from courses import services
from courses.models import CourseStatus, SafetyFlag
from notifications import links
from tests.browser.conftest import axe_violations, screenshot
from tests.factories import CourseFactory, PatientFactory, cleared_screening

pytestmark = pytest.mark.django_db(transaction=True)
WIDTHS = (1440, 390)


def _clean_at_both_widths(page: Page) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == [], width


@pytest.fixture
def point(clinic: Any, psychiatrist: Any) -> Any:
    """The first point of a course completed two weeks ago: open today."""
    course = CourseFactory(
        patient=PatientFactory(clinic=clinic),
        psychiatrist=psychiatrist,
        status=CourseStatus.ACTIVE,
    )
    cleared_screening(course.patient, by=psychiatrist)
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(weeks=2), tick=False):
        services.course_transition(course, CourseStatus.COMPLETED, by=psychiatrist)
    return course.relapse_watch.points.first()


def test_missing_answers_then_item_9_then_the_used_link(page: Page, point: Any) -> None:
    url = f"/p/q/{links.watch_token(point)}"
    page.goto(url)
    page.get_by_role("button", name="Send my answers").click()
    assert page.get_by_role("alert").inner_text().startswith("Please answer every question")
    _clean_at_both_widths(page)
    for number in range(1, 10):
        group = page.get_by_role("group", name=f"{number}.", exact=False)
        answer = "Several days" if number == 9 else "Not at all"
        group.first.get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Send my answers").click()
    assert page.locator("h2").first.inner_text() == "Please get help now"
    assert page.get_by_role("link", name="988").get_attribute("href") == "tel:988"
    assert page.get_by_role("link", name="(718) 555-0100").get_attribute("href") == (
        "tel:+17185550100"
    )
    _clean_at_both_widths(page)
    screenshot(page, "relapse-watch/help-now-390")
    assert SafetyFlag.objects.get().item_value == 1
    response = page.goto(url)
    assert response is not None and response.status == 410
    assert page.locator("h1").inner_text() == "You have answered these questions"
    _clean_at_both_widths(page)


def test_a_tampered_link(page: Page, point: Any) -> None:
    response = page.goto(f"/p/q/{links.watch_token(point)[:-2]}xx")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "This link is not valid"
    _clean_at_both_widths(page)
