"""A psychiatrist opens a course page and sees the score chart and the risk reasons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from courses.services import assessment_record
from scheduling.models import Session, SessionStatus
from scheduling.risk import recompute_risk
from scheduling.selectors import course_progress
from scheduling.services import course_schedule
from tests.browser.conftest import axe_violations, screenshot


def test_psychiatrist_sees_the_chart_and_the_risk_reasons(
    page: Page, login: Any, make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    today = timezone.localdate()
    start = today - dt.timedelta(days=today.weekday() + 21)  # a Monday three weeks ago
    course = make_course(start=start)
    course_schedule(course, allow_past=True)
    past = list(
        Session.objects.filter(course=course, starts_at__lt=timezone.now()).order_by("starts_at")
    )
    Session.objects.filter(pk__in=[s.pk for s in past[:-3]]).update(status=SessionStatus.COMPLETED)
    Session.objects.filter(pk__in=[s.pk for s in past[-3:]]).update(status=SessionStatus.MISSED)
    for days, score in ((0, 21), (7, 17), (14, 15)):
        assessment_record(
            course,
            instrument="phq9",
            administered_on=start + dt.timedelta(days=days),
            by=psychiatrist,
            score=score,
            suicide_item=0,
        )
    recompute_risk([course.pk])
    reasons = course_progress(course)["risk"]["details"]
    assert reasons, "three misses in a row should put the course at risk"

    login(psychiatrist)
    page.get_by_role("link", name="My courses").click()
    page.get_by_role(
        "link",
        name=f"{course.protocol.name} course of {course.patient.last_name}, "
        f"{course.patient.first_name}",
    ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(course.patient.first_name)

    chart = page.get_by_role("img").filter(has_text="PHQ-9")
    expect(chart).to_be_visible()
    assert page.locator("svg circle").count() >= 3  # one point per score
    expect(chart.get_by_text("Today", exact=True)).to_be_visible()  # three weeks into the course
    risk = page.locator("section", has=page.get_by_role("heading", name="Risk"))
    for reason in reasons:
        expect(risk).to_contain_text(reason["detail"])
    screenshot(page, "course-page")
    assert axe_violations(page) == []


def test_psychiatrist_records_a_decision_on_an_adverse_event(
    page: Page, login: Any, make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    """A faint holds the course; on its page the psychiatrist chooses "continue" and the
    page comes back with the hold and its risk reason gone, free of serious
    accessibility problems."""
    from scheduling import services
    from tests.factories import SessionFactory

    course = make_course()
    starts = timezone.now() - dt.timedelta(hours=2)
    treated = SessionFactory(
        course=course,
        chair=chairs[0],
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=40),
        status=SessionStatus.CHECKED_IN,
    )
    services.session_complete(
        treated,
        technician=psychiatrist,
        pulses_delivered=3000,
        intensity_pct_mt=120,
        coil_position="F3",
        side_effects=["syncope"],
    )

    login(psychiatrist)
    page.goto(f"/courses/{course.pk}/")
    section = page.locator("#adverse-events")
    expect(section).to_contain_text("Needs psychiatrist review")
    assert axe_violations(page) == []
    section.get_by_label("Continue treatment").check()
    section.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded")).to_be_visible()
    expect(page.locator("#adverse-events")).to_contain_text("Decision: Continue treatment")
    expect(page.locator("body")).not_to_contain_text("Adverse event awaiting review")
    screenshot(page, "adverse-event-decided")
