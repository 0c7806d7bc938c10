"""Safety alerts by email, end to end: a real Celery worker sends them through a real
SMTP server (aiosmtpd), as the at-risk alert's test does (tests/courses/test_alerts.py):
an adverse event recorded with a session, and an unacknowledged alert's escalation."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from clinic.models import Role
from scheduling import services
from scheduling.models import SessionStatus
from tests.celery_worker import celery_worker, require_redis, unique_queue
from tests.factories import (
    CourseFactory,
    MembershipFactory,
    PatientFactory,
    SessionFactory,
    cleared_screening,
)
from tests.smtp import SmtpServer, start_smtp_server

RECORD = {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3"}


def _smtp_and_queue(monkeypatch: Any) -> tuple[SmtpServer, str]:
    """A real SMTP server as Django's email backend, and a queue of our own on the real
    Redis to which alert emails go (the worker started by the test listens there)."""
    from clinic.celery import app as celery_app
    from courses import tasks

    smtp = start_smtp_server()
    for name, value in {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_USE_TLS": "false",
        "DEFAULT_FROM_EMAIL": "alerts@cadence.test",
    }.items():
        monkeypatch.setenv(name, value)
    queue = unique_queue("alerts")
    real_task = tasks.email_staff_alerts
    broker = require_redis()

    class ToOurQueue:
        @staticmethod
        def delay(alert_ids: list[int]) -> None:
            with celery_app.connection_for_write(broker) as connection:
                real_task.apply_async((alert_ids,), queue=queue, connection=connection)

    monkeypatch.setattr(tasks, "email_staff_alerts", ToOurQueue)
    return smtp, queue


def _wait_for(smtp: SmtpServer, done: Callable[[list[str]], bool]) -> None:
    """Until ``done`` holds for the subjects received (a minute at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if done([message["Subject"] for _, _, message in smtp.handler.messages]):
            return
        time.sleep(0.2)


@pytest.mark.celery
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_an_adverse_event_reaches_the_psychiatrist_by_email(clinic: Any, monkeypatch: Any) -> None:
    """The whole path: a technician records a faint; after the commit the adverse-event
    alert goes to a real Celery worker, which emails it through a real SMTP server."""
    smtp, queue = _smtp_and_queue(monkeypatch)
    psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    psychiatrist.email = "dr@example.com"
    psychiatrist.save()
    technician = MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user
    course = CourseFactory(patient=PatientFactory(clinic=clinic), psychiatrist=psychiatrist)
    cleared_screening(course.patient, by=psychiatrist)
    started = timezone.now() - dt.timedelta(minutes=10)  # completion once it has started
    session = SessionFactory(course=course, status=SessionStatus.CHECKED_IN, starts_at=started)
    try:
        with celery_worker(queue):
            services.session_complete(
                session, technician=technician, **RECORD, side_effects=["syncope"]
            )
            # The adverse-event alert, and the at-risk alert the event's reason brings.
            _wait_for(smtp, lambda subjects: len(subjects) >= 2)
    finally:
        smtp.stop()
    by_subject = {message["Subject"]: rcpt for _, rcpt, message in smtp.handler.messages}
    assert by_subject.get(f"Cadence: Adverse event (course {course.pk})") == ["dr@example.com"]
    body = next(
        message.get_content()
        for _, _, message in smtp.handler.messages
        if message["Subject"].startswith("Cadence: Adverse event")
    )
    assert "Fainting (syncope) recorded with the session" in body
    assert course.patient.last_name not in body
    assert all(rcpt == ["dr@example.com"] for rcpt in by_subject.values())


@pytest.mark.celery
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_an_unacknowledged_safety_flag_escalates_by_email(clinic: Any, monkeypatch: Any) -> None:
    """The whole path of an escalation: a safety flag's alert left unacknowledged past the
    clinic's escalation time; the periodic run escalates it after the commit to a real
    Celery worker, which emails the other psychiatrist and the clinic admin through a
    real SMTP server; the prescriber, front desk and the patient get no escalation."""
    import datetime as dt

    from django.utils import timezone

    from clinic.models import OpeningHours
    from courses import services as course_services
    from courses.escalation import escalate_overdue_alerts
    from courses.models import StaffAlert

    smtp, queue = _smtp_and_queue(monkeypatch)
    # Open every day, all day: the alert below is overdue whatever the hour of the run.
    OpeningHours.objects.filter(clinic=clinic).delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(clinic=clinic, weekday=day, opens=dt.time(0), closes=dt.time(23, 59))
        for day in range(7)
    )
    clinic.escalation_minutes = 60
    clinic.save()

    def member(role: str, email: str) -> Any:
        user = MembershipFactory(clinic=clinic, role=role).user
        user.email = email
        user.save()
        return user

    prescriber = member(Role.PSYCHIATRIST, "dr.a@example.com")
    member(Role.PSYCHIATRIST, "dr.b@example.com")
    member(Role.CLINIC_ADMIN, "admin@example.com")
    member(Role.FRONT_DESK, "desk@example.com")
    course = CourseFactory(patient=PatientFactory(clinic=clinic), psychiatrist=prescriber)
    course_services.assessment_record(
        course,
        instrument="phq9",
        items=[2, 2, 2, 2, 2, 2, 2, 2, 1],
        administered_on=course.start_date,
        by=None,
    )
    StaffAlert.objects.filter(kind="safety_flag").update(
        created_at=timezone.now() - dt.timedelta(hours=3)
    )
    escalation_subject = f"Cadence: Unacknowledged alert (course {course.pk})"
    try:
        with celery_worker(queue):
            assert escalate_overdue_alerts() == 1
            assert escalate_overdue_alerts() == 0  # once per cause
            _wait_for(smtp, lambda s: sum(1 for m in s if m == escalation_subject) >= 2)
    finally:
        smtp.stop()
    escalated = sorted(
        rcpt[0]
        for _, rcpt, message in smtp.handler.messages
        if message["Subject"] == escalation_subject
    )
    assert escalated == ["admin@example.com", "dr.b@example.com"]
    body = next(
        message.get_content()
        for _, _, message in smtp.handler.messages
        if message["Subject"] == escalation_subject
    )
    assert "Not acknowledged by the course's psychiatrist within 1 h 00 min" in body
    assert course.patient.last_name not in body
