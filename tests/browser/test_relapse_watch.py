"""The relapse watch end to end (docs/relapse-watch.md), with a real Celery worker
process on the real Redis, a local stand-in for the SMS provider (tests/sms_fakes.py),
a real SMTP server (aiosmtpd) and Chromium:

an acute course is completed → the reminders' beat task plans the first link at 10:00
clinic-local on its day (week 2), on both channels the patient agreed to → the worker
sends the text and the email → the patient follows the text's link on a phone-sized
screen and answers the PHQ-9 (the page passes axe-core at 390 and 1440 px) → the
answer is a patient-reported assessment that meets the relapse rule → the worker emails
the psychiatrist's relapse alert → the course page shows the patient on the relapse
list → its booster link previews a booster course, and confirming prescribes and books
it in one action.

The course ends two weeks ago on the test's clock, so its first point is today on the
worker's real clock; the clinic's time zone is one where it is now about noon, so the
real clock is inside the send window whatever the hour the suite runs at.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.celery import app as celery_app
from clinic.models import Role
from courses import course_plan
from courses import services as course_services
from courses.models import (
    AlertKind,
    Assessment,
    AssessmentSource,
    CourseStatus,
    CourseType,
    Relapse,
    StaffAlert,
    TreatmentCourse,
)
from notifications import tasks
from notifications.models import Channel, Kind, Notification, Status
from scheduling.models import Session, SessionStatus
from tests.browser.conftest import axe_violations, screenshot
from tests.celery_worker import celery_worker, forget_queue, require_redis, unique_queue
from tests.factories import (
    ChairFactory,
    ClinicFactory,
    CourseFactory,
    MembershipFactory,
    PatientFactory,
    cleared_screening,
)
from tests.sms_fakes import FakeTwilio, midday_timezone
from tests.smtp import SmtpServer, start_smtp_server

pytestmark = [pytest.mark.celery, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ACCOUNT_SID = "AC" + uuid.uuid4().hex
AUTH_TOKEN = uuid.uuid4().hex
REAL_SEND = tasks.send_batch
# The patient's answers: 12 in all (the course ended at 4, in remission), item 9 at 0.
ANSWERS = {1: "Nearly every day", 2: "Nearly every day", 3: "More than half the days",
           4: "More than half the days", 5: "Several days", 6: "Several days",
           7: "Not at all", 8: "Not at all", 9: "Not at all"}  # fmt: skip


@pytest.fixture
def outside(monkeypatch: Any, live_server: Any) -> Iterator[tuple[FakeTwilio, SmtpServer, str]]:
    """The provider, the SMTP server and a queue of this test's own, and the worker's
    environment pointing at them (set before the worker starts)."""
    from courses import tasks as course_tasks

    broker = require_redis()
    provider = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    provider.thread.start()
    smtp = start_smtp_server()
    for name, value in {
        "SMS_TRANSPORT": "notifications.transports.TwilioTransport",
        "EMAIL_TRANSPORT": "notifications.transports.EmailTransport",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+17185550199",
        "TWILIO_BASE_URL": provider.url,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_USE_TLS": "false",
        "DEFAULT_FROM_EMAIL": "care@cadence.test",
        "PUBLIC_BASE_URL": live_server.url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SMS_STATUS_CALLBACK_URL", raising=False)
    queue = unique_queue("relapse")
    real_alerts = course_tasks.email_staff_alerts

    class SendToOurQueue:
        @staticmethod
        def apply_async(args: tuple[Any, ...], **options: Any) -> None:
            with celery_app.connection_for_write(broker) as connection:
                REAL_SEND.apply_async(args, queue=queue, ignore_result=True, connection=connection)

    class AlertsToOurQueue:
        @staticmethod
        def delay(alert_ids: list[int]) -> None:
            with celery_app.connection_for_write(broker) as connection:
                real_alerts.apply_async((alert_ids,), queue=queue, connection=connection)

    monkeypatch.setattr(tasks, "send_batch", SendToOurQueue)
    monkeypatch.setattr(course_tasks, "email_staff_alerts", AlertsToOurQueue)
    try:
        yield provider, smtp, queue
    finally:
        provider.stop()
        smtp.stop()
        forget_queue(broker, queue)


def _wait_for(done: Callable[[], bool], what: str, worker: Any, timeout: float = 60) -> None:
    """Poll ``done``, running the dispatcher's beat tick (every minute in a deployment)
    every two seconds."""
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic()
    while not done():
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            statuses = list(Notification.objects.values_list("kind", "channel", "status"))
            pytest.fail(f"timed out waiting for {what}: {statuses}")
        if time.monotonic() >= next_tick:
            tasks.dispatch_due()
            next_tick = time.monotonic() + 2
        time.sleep(0.1)


def _mail_to(smtp: SmtpServer, address: str) -> list[Any]:
    return [message for _, rcpt, message in smtp.handler.messages if address in rcpt]


def _answer_at(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    assert axe_violations(page) == [], width


def test_a_relapse_watch_end_to_end(
    page: Page, login: Any, outside: tuple[FakeTwilio, SmtpServer, str]
) -> None:
    provider, smtp, queue = outside
    clinic = ClinicFactory(timezone=midday_timezone(), phone="+17185550100")
    psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    psychiatrist.email = "dr@example.com"
    psychiatrist.save()
    patient = PatientFactory(clinic=clinic, first_name="Avery", email="avery@example.com")
    ChairFactory(clinic=clinic)  # for the booster at the end
    course = CourseFactory(patient=patient, psychiatrist=psychiatrist, status=CourseStatus.ACTIVE)
    cleared_screening(patient, by=psychiatrist)

    # The course ends two weeks ago, in remission (PHQ-9 4).
    with time_machine.travel(timezone.now() - dt.timedelta(weeks=2), tick=False):
        ended_on = clinic.today()
        course_services.assessment_record(
            course, instrument="phq9", score=4, suicide_item=0,
            administered_on=ended_on, by=psychiatrist,
        )  # fmt: skip
        course_services.course_transition(course, CourseStatus.COMPLETED, by=psychiatrist)
    points = list(course.relapse_watch.points.all())
    first = points[0]
    assert first.due_on == ended_on + dt.timedelta(weeks=2) == clinic.today()

    # The beat task, the day before at noon: the link is planned for 10:00 on its day.
    with time_machine.travel(
        dt.datetime.combine(first.due_on - dt.timedelta(days=1), dt.time(12), tzinfo=clinic.tz),
        tick=False,
    ):
        tasks.plan_reminders()
    rows = Notification.objects.filter(kind=Kind.WATCH_CHECKIN)
    assert sorted(rows.values_list("channel", flat=True)) == [Channel.EMAIL, Channel.SMS]
    assert set(rows.values_list("watch_point", flat=True)) == {first.pk}
    ten = dt.datetime.combine(first.due_on, dt.time(10), tzinfo=clinic.tz)
    assert set(rows.values_list("scheduled_for", flat=True)) == {ten}

    with celery_worker(queue) as worker:
        _wait_for(
            lambda: (
                not rows.filter(status=Status.PENDING).exists()
                and provider.delivered() == 1
                and len(_mail_to(smtp, patient.email)) == 1
            ),
            "the text and the email to the patient",
            worker,
        )
        assert set(rows.values_list("status", flat=True)) == {Status.SENT}
        ((_, to, text),) = provider.deliveries
        assert to == patient.phone
        link = re.search(r"https?://\S+/p/q/\S+", text)
        assert link is not None, text
        assert link.group(0) in _mail_to(smtp, patient.email)[0].get_content()
        for word in ("tms", "magnetic", "depression", "psychiatr", "relapse"):
            assert word not in text.lower()

        # The patient follows the link; the page passes axe-core at both widths.
        response = page.goto(link.group(0))
        assert response is not None and response.status == 200
        _answer_at(page, 1440)
        _answer_at(page, 390)
        screenshot(page, "relapse-watch/questionnaire-390")
        for number, answer in ANSWERS.items():
            question = page.get_by_role("group", name=re.compile(rf"^{number}\. "))
            question.get_by_label(answer, exact=True).check()
        page.get_by_role("button", name="Send my answers").click()
        assert page.locator("h1").inner_text() == "Thank you"
        assert "988" in page.content()
        assert axe_violations(page) == []

        assessment = Assessment.objects.get(source=AssessmentSource.PATIENT_REPORTED)
        assert (assessment.score, assessment.course_id) == (12, course.pk)
        entry = Relapse.objects.get()
        assert (entry.course_id, entry.score, entry.baseline) == (course.pk, 12, 4)
        alert = StaffAlert.objects.get(kind=AlertKind.RELAPSE)
        assert alert.recipient == psychiatrist

        # The relapse alert leaves through the worker, by email.
        _wait_for(lambda: len(_mail_to(smtp, psychiatrist.email)) == 1, "the relapse alert", worker)
    (mail,) = _mail_to(smtp, psychiatrist.email)
    assert mail["Subject"] == f"Cadence: Possible relapse (course {course.pk})"
    assert "PHQ-9 of 12" in mail.get_content()
    assert patient.last_name not in mail.get_content()

    # The psychiatrist sees the patient on the course page's relapse list.
    login(psychiatrist)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/courses/{course.pk}/")
    item = page.locator(f"#relapse-{entry.pk}")
    assert "Possible relapse" in item.inner_text()
    booster = item.get_by_role("link", name="Offer a booster course")
    assert booster.get_attribute("href") == f"/courses/{course.pk}/booster/"
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 900})
    assert axe_violations(page) == []
    screenshot(page, "relapse-watch/course-page-390")

    # The entry's one action: the booster previewed, then prescribed and booked at once.
    page.set_viewport_size({"width": 1440, "height": 900})
    booster.click()
    page.wait_for_url(f"**/courses/{course.pk}/booster/")
    page.locator("#booster-form button[value=preview]").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Preview: \d+ sessions$"))).to_be_visible()
    assert not TreatmentCourse.objects.filter(type=CourseType.BOOSTER).exists()
    page.locator("#booster-confirm button[value=confirm]").click()
    expect(page.get_by_role("status")).to_contain_text("Booster course prescribed")
    boost = TreatmentCourse.objects.get(type=CourseType.BOOSTER)
    page.wait_for_url(f"**/courses/{boost.pk}/")
    assert (boost.follows_id, boost.patient_id) == (course.pk, patient.pk)
    booked = Session.objects.filter(course=boost, status=SessionStatus.SCHEDULED).count()
    assert booked == course_plan.course_sessions_total(boost) > 0
    screenshot(page, "relapse-watch/booster-booked")
