"""The day-to-day fixes in Chromium: the board with a missed session to undo or check in
late, a cancelled one listed apart and the line at the current time; the 403 and 404
pages; a dead patient link. axe-core finds no serious or critical violation at 1440 and
390 px wide, and the front desk undoes a missed mark from the board."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from playwright.sync_api import Page, expect

from clinic.models import Role
from scheduling.models import Session, SessionStatus
from scheduling.services import course_schedule, session_cancel, session_mark_missed
from tests.browser.conftest import axe_violations, screenshot

# Monday 11 January 2027, 11:30 in New York: the 10:00 session has begun.
LATE_MORNING = dt.datetime(2027, 1, 11, 16, 30, tzinfo=dt.UTC)
WIDTHS = [(1440, 900), (390, 844)]


def _first(course: Any) -> Session:
    first = Session.objects.filter(course=course).order_by("starts_at").first()
    assert first is not None
    return first


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_the_board_with_corrections_to_make_passes_axe(
    page: Page,
    login: Any,
    front_desk: Any,
    make_course: Any,
    chairs: list[Any],
    width: int,
    height: int,
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    with time_machine.travel(LATE_MORNING, tick=True):
        start = dt.date(2027, 1, 11)
        missed_course, cancelled_course = (
            make_course(start=start, at=at) for at in (dt.time(10), dt.time(14))
        )
        for course in (missed_course, cancelled_course):
            course_schedule(course)
        missed = session_mark_missed(_first(missed_course))
        cancelled = session_cancel(_first(cancelled_course), reason="ill")
        login(front_desk)
        page.goto("/board/?date=2027-01-11")
        expect(page.locator(".now-label")).to_be_visible()
        expect(page.locator(f".board-cancelled #session-{cancelled.pk}")).to_be_visible()
        block = page.locator(f"#session-{missed.pk}")
        expect(block.get_by_role("button", name="Check in late")).to_be_visible()
        block.locator("summary").click()
        page.locator(".board-cancelled summary").click()
        assert axe_violations(page) == []
        screenshot(page, f"board-corrections-{width}")
        if width == 1440:
            block.get_by_label("Why undo").fill("She was in the waiting room")
            block.get_by_role("button", name="Undo missed").click()
            expect(page.locator(f"#session-{missed.pk}")).to_have_class(
                "session-block status-scheduled"
            )
            assert Session.objects.get(pk=missed.pk).status == SessionStatus.SCHEDULED


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_error_pages_and_a_dead_patient_link_pass_axe(
    page: Page, login: Any, staff: Any, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    found = {}
    response = page.goto("/p/session/not-a-token/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    found["dead link"] = axe_violations(page)
    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404
    found["anonymous 404"] = axe_violations(page)
    login(staff(Role.TECHNICIAN))
    for path, status in (("/no-such-page/", 404), ("/outbox/", 403)):
        response = page.goto(path)
        assert response is not None and response.status == status
        found[path] = axe_violations(page)
        screenshot(page, f"error-{status}-{width}")
    assert found == {key: [] for key in found}


NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_the_technicians_list_fits_a_tablet_and_the_patient_page_a_phone(
    page: Page, login: Any, staff: Any, make_course: Any, chairs: list[Any]
) -> None:
    """768 px (a tablet at the chair): the list with a treatment record form open; 390 px
    (a phone): the page a patient's link opens. Neither scrolls sideways; both pass axe."""
    from notifications import links

    with time_machine.travel(LATE_MORNING, tick=True):
        course = make_course(start=dt.date(2027, 1, 11), at=dt.time(11))
        course_schedule(course)
        first = _first(course)
        Session.objects.filter(pk=first.pk).update(
            status=SessionStatus.CHECKED_IN, checked_in_at=LATE_MORNING
        )
        upcoming = Session.objects.filter(course=course).order_by("starts_at")[1]
        page.set_viewport_size({"width": 768, "height": 1024})
        login(staff(Role.TECHNICIAN))
        page.goto("/today/")
        expect(page.locator(f"#record-{first.pk}")).to_be_visible()
        screenshot(page, "today-768")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"/p/session/{links.session_token(upcoming)}/")
        expect(page.get_by_role("button", name="Confirm")).to_be_visible()
        screenshot(page, "patient-session-390")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert axe_violations(page) == []


def test_a_busy_day_fits_one_screen_on_a_linear_axis(
    page: Page, login: Any, front_desk: Any, make_course: Any, chairs: list[Any]
) -> None:
    """28 sessions over 4 chairs, 07:30-19:00, at 1440x900: the whole grid is on the
    screen, and a 10-minute session's block is a quarter as tall as a 40-minute one's."""
    from tests.factories import SessionFactory

    ny = dt.timezone(dt.timedelta(hours=-5))
    day = dt.date(2027, 1, 12)
    blocks = {}
    for index in range(28):
        chair = chairs[index % 4]
        start = dt.datetime(2027, 1, 12, 7, 30, tzinfo=ny) + dt.timedelta(minutes=70 * (index // 4))
        minutes = 10 if index == 1 else 40
        blocks[index] = SessionFactory(
            course=make_course(start=day),
            chair=chair,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=minutes),
        )
    page.set_viewport_size({"width": 1440, "height": 900})
    login(front_desk)
    page.goto("/board/?date=2027-01-12")
    table = page.locator("table.board").bounding_box()
    assert table is not None
    screenshot(page, "board-busy-1440")
    assert table["y"] + table["height"] <= 900, table
    short = page.locator(f"#session-{blocks[1].pk}").bounding_box()
    long = page.locator(f"#session-{blocks[0].pk}").bounding_box()
    assert short is not None and long is not None
    assert 3 <= long["height"] / short["height"] <= 5, (short, long)
    assert axe_violations(page) == []
