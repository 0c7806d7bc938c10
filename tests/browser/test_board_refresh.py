"""The day board shows what was recorded elsewhere (a technician's check-in, a
cancellation on the phone) without a reload, and never while someone works in it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from playwright.sync_api import Page, expect

from scheduling.models import Session
from scheduling.services import course_schedule, session_cancel, session_check_in
from tests.browser.test_front_desk import MONDAY_MORNING


def _first_session(course: Any) -> Session:
    first = Session.objects.filter(course=course).order_by("starts_at").first()
    assert first is not None
    return first


def test_the_board_refreshes_itself_but_not_while_someone_works_in_it(
    page: Page,
    login: Any,
    front_desk: Any,
    make_course: Any,
    chairs: list[Any],
    settings: Any,
) -> None:
    settings.BOARD_REFRESH_SECONDS = 1
    with time_machine.travel(MONDAY_MORNING, tick=True):
        start = dt.date(2027, 1, 11)
        # Check-in opens an hour before: the early and the soon sessions are open for it.
        early, late, soon = (
            make_course(start=start, at=at) for at in (dt.time(10), dt.time(11), dt.time(9, 30))
        )
        for course in (early, late, soon):
            course_schedule(course)
        early_session, late_session = _first_session(early), _first_session(late)

        login(front_desk)
        page.get_by_role("link", name="Day board").click()
        early_block = page.locator(f"#session-{early_session.pk}")
        late_block = page.locator(f"#session-{late_session.pk}")
        expect(early_block).to_contain_text("Scheduled")
        expect(late_block).to_contain_text("Scheduled")

        # Checked in at the technician's station: the board shows it by itself.
        session_check_in(early_session)
        expect(early_block).to_contain_text("Checked in", timeout=10_000)

        # Someone has the late session's "More" panel open: the board holds still...
        late_block.get_by_text("More").click()
        expect(late_block.get_by_label("Reason for cancelling")).to_be_visible()
        # ...while the refreshed board's own buttons answer in place (the block comes
        # back with the outcome in it, which only the button's answer carries)...
        soon_block = page.locator(f"#session-{_first_session(soon).pk}")
        soon_block.get_by_role("button", name="Check in").click()
        expect(soon_block.get_by_role("status")).to_contain_text("Checked in")
        expect(soon_block).to_contain_text("Checked in")
        session_cancel(late_session, reason="called in sick")
        page.wait_for_timeout(3_000)  # three refresh periods
        expect(late_block).to_contain_text("Scheduled")
        expect(late_block.get_by_label("Reason for cancelling")).to_be_visible()

        # ...and catches up once they are done with it.
        late_block.get_by_text("More").click()
        page.locator("h1").click()  # focus leaves the board
        expect(late_block).to_contain_text("Cancelled", timeout=10_000)


def test_the_board_does_not_refresh_when_turned_off(
    page: Page, login: Any, front_desk: Any, make_course: Any, chairs: list[Any], settings: Any
) -> None:
    settings.BOARD_REFRESH_SECONDS = 0
    with time_machine.travel(MONDAY_MORNING, tick=True):
        course = make_course(start=dt.date(2027, 1, 11), at=dt.time(10))
        course_schedule(course)
        session = _first_session(course)
        login(front_desk)
        page.get_by_role("link", name="Day board").click()
        block = page.locator(f"#session-{session.pk}")
        expect(block).to_contain_text("Scheduled")
        session_check_in(session)
        page.wait_for_timeout(2_500)
        expect(block).to_contain_text("Scheduled")
        page.reload()
        expect(block).to_contain_text("Checked in")


def test_a_refresh_keeps_the_page_scrolled_where_it_was(
    page: Page,
    login: Any,
    front_desk: Any,
    make_course: Any,
    chairs: list[Any],
    settings: Any,
) -> None:
    settings.BOARD_REFRESH_SECONDS = 1
    page.set_viewport_size({"width": 1024, "height": 600})  # the day is longer than that
    with time_machine.travel(MONDAY_MORNING, tick=True) as traveller:
        course = make_course(start=dt.date(2027, 1, 11), at=dt.time(15))
        course_schedule(course)
        session = _first_session(course)
        traveller.move_to(dt.datetime(2027, 1, 11, 19, 45, tzinfo=dt.UTC))  # 14:45 New York
        login(front_desk)
        page.get_by_role("link", name="Day board").click()
        block = page.locator(f"#session-{session.pk}")
        block.scroll_into_view_if_needed()
        scrolled = page.evaluate("window.scrollY")
        assert scrolled > 300

        session_check_in(session)
        expect(block).to_contain_text("Checked in", timeout=10_000)
        assert page.evaluate("window.scrollY") == scrolled
