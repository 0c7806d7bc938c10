"""Staff alerts: safety flags and courses turning at risk reach the psychiatrist at
once; a daily digest reaches front desk and psychiatrists; patients never get them."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import time_machine

from clinic.models import Role
from courses import alerts, services
from courses.models import StaffAlert, TreatmentCourse
from tests.factories import CourseFactory, MembershipFactory, PatientFactory

SELF_HARM = [2, 2, 2, 2, 2, 2, 2, 2, 1]


@pytest.fixture
def course(clinic: Any) -> Any:
    psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    psychiatrist.email = "dr@example.com"
    psychiatrist.save()
    return CourseFactory(patient=PatientFactory(clinic=clinic), psychiatrist=psychiatrist)


def test_safety_flag_alerts_the_psychiatrist_once(course: Any, mailoutbox: Any) -> None:
    services.assessment_record(
        course, instrument="phq9", items=SELF_HARM, administered_on=course.start_date, by=None
    )
    alert = StaffAlert.objects.get(kind="safety_flag")
    # The flag also turns the course at risk, which is a second, separate alert.
    assert set(StaffAlert.objects.values_list("kind", flat=True)) == {"safety_flag", "at_risk"}
    assert alert.recipient == course.psychiatrist and alert.kind == "safety_flag"
    assert alerts.email_alerts([alert.pk]) == 1
    assert alerts.email_alerts([alert.pk]) == 0  # emailed once
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["dr@example.com"]
    assert course.patient.email not in mailoutbox[0].to


def test_reviewing_the_flag_settles_its_alert(course: Any) -> None:
    services.assessment_record(
        course, instrument="phq9", items=SELF_HARM, administered_on=course.start_date, by=None
    )
    flag = course.safety_flags.get()
    services.safety_flag_acknowledge(flag, by=course.psychiatrist)
    settled = StaffAlert.objects.get(kind="safety_flag")
    assert settled.acknowledged_at is not None
    # The flag was all that put the course at risk: its at-risk alert settles too, and
    # says why (nobody acknowledged it).
    at_risk = StaffAlert.objects.get(kind="at_risk")
    assert at_risk.acknowledged_at is not None
    assert at_risk.settled_reason.startswith("Settled: the course is")
    services.safety_flag_acknowledge(flag, by=course.psychiatrist)  # idempotent
    assert StaffAlert.objects.get(kind="safety_flag").acknowledged_at == settled.acknowledged_at


def test_turning_at_risk_alerts_once_a_day(course: Any) -> None:
    TreatmentCourse.objects.filter(pk=course.pk).update(risk_level="watch")
    course.refresh_from_db()
    course.risk_level = "at_risk"
    alerts.raise_for_risk_changes([(course, "watch")])
    alerts.raise_for_risk_changes([(course, "watch")])  # same day: no second alert
    alerts.raise_for_risk_changes([(course, "at_risk")])  # was already at risk
    assert StaffAlert.objects.filter(kind="at_risk").count() == 1


def test_alert_api_shows_only_my_alerts(course: Any, api: Any, staff: Any) -> None:
    services.assessment_record(
        course, instrument="phq9", items=SELF_HARM, administered_on=course.start_date, by=None
    )
    mine = api(course.psychiatrist)
    listed = mine.get("/api/v1/alerts/", {"kind": "safety_flag"}).json()
    assert listed["count"] == 1
    alert_id = listed["results"][0]["id"]
    acked = mine.post(f"/api/v1/alerts/{alert_id}/acknowledge/")
    assert acked.status_code == 200 and acked.json()["acknowledged_at"]
    other = api(staff(Role.PSYCHIATRIST))
    assert other.get("/api/v1/alerts/").json()["count"] == 0
    unacknowledged_first = mine.get("/api/v1/alerts/").json()["results"]
    assert unacknowledged_first[-1]["id"] == alert_id
    assert other.post(f"/api/v1/alerts/{alert_id}/acknowledge/").status_code == 404
    assert api(None).get("/api/v1/alerts/").status_code == 401


def test_daily_digest_at_seven_local(course: Any, clinic: Any, mailoutbox: Any) -> None:
    TreatmentCourse.objects.filter(pk=course.pk).update(risk_level="at_risk")
    desk = MembershipFactory(clinic=clinic, role=Role.FRONT_DESK).user
    desk.email = "desk@example.com"
    desk.save()
    MembershipFactory(clinic=clinic, role=Role.TECHNICIAN)  # not a recipient
    seven_local = dt.datetime(2026, 11, 26, 12, 10, tzinfo=dt.UTC)  # 07:10 in New York
    with time_machine.travel(seven_local, tick=False):
        assert alerts.send_daily_digests() == 2
        assert alerts.send_daily_digests() == 0  # once a day
    with time_machine.travel(seven_local + dt.timedelta(hours=1), tick=False):
        assert alerts.send_daily_digests() == 0
    recipients = sorted(message.to[0] for message in mailoutbox)
    assert recipients == ["desk@example.com", "dr@example.com"]
    assert "1 course(s) at risk" in mailoutbox[0].subject


def test_the_once_a_day_key_is_the_clinics_date(course: Any) -> None:
    """At 23:30 in New York it is already tomorrow in UTC: the key is New York's day."""
    late_evening = dt.datetime(2026, 11, 27, 4, 30, tzinfo=dt.UTC)  # 26 Nov, 23:30 local
    course.risk_level = "at_risk"
    with time_machine.travel(late_evening, tick=False):
        alerts.raise_for_risk_changes([(course, "watch")])
    assert StaffAlert.objects.get(kind="at_risk").key == f"at_risk:{course.pk}:2026-11-26"


def test_turning_at_risk_queues_the_email(
    course: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    """bulk_create(ignore_conflicts=True) sets no pk on PostgreSQL: the alert must still
    be queued for email (it never was)."""
    from courses import tasks

    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.email_staff_alerts, "delay", queued.append)
    course.risk_level = "at_risk"
    with django_capture_on_commit_callbacks(execute=True):
        alerts.raise_for_risk_changes([(course, "watch")])
        alerts.raise_for_risk_changes([(course, "watch")])  # same day: one alert
    alert = StaffAlert.objects.get(kind="at_risk")
    assert queued == [[alert.pk], [alert.pk]]  # still waiting: emailing claims it once
    assert alerts.email_alerts(queued[0]) == 1
    assert alerts.email_alerts(queued[1]) == 0


@pytest.mark.celery
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_course_turning_at_risk_reaches_the_psychiatrist_by_email(
    clinic: Any, monkeypatch: Any
) -> None:
    """The whole path: a PHQ-9 answered with item 9 above 0 turns the course at risk;
    after the commit both alerts go to a real Celery worker, which emails them through
    a real SMTP server."""
    from clinic.celery import app as celery_app
    from courses import tasks
    from tests.celery_worker import celery_worker, require_redis, unique_queue
    from tests.smtp import start_smtp_server

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
    psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    psychiatrist.email = "dr@example.com"
    psychiatrist.save()
    course = CourseFactory(patient=PatientFactory(clinic=clinic), psychiatrist=psychiatrist)
    try:
        with celery_worker(queue):
            services.assessment_record(
                course,
                instrument="phq9",
                items=SELF_HARM,
                administered_on=course.start_date,
                by=None,
            )
            course.refresh_from_db()
            assert course.risk_level == "at_risk"
            deadline = time.monotonic() + 60
            while len(smtp.handler.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        smtp.stop()
    subjects = sorted(message["Subject"] for _, _, message in smtp.handler.messages)
    assert subjects == [
        f"Cadence: Course at risk (course {course.pk})",
        f"Cadence: Safety flag (course {course.pk})",
    ]
    assert all(rcpt == ["dr@example.com"] for _, rcpt, _ in smtp.handler.messages)
    assert course.patient.email not in {r for _, rcpt, _ in smtp.handler.messages for r in rcpt}


def test_an_at_risk_alert_settles_when_the_risk_goes_away(course: Any) -> None:
    course.risk_level = "at_risk"
    alerts.raise_for_risk_changes([(course, "watch")])
    course.risk_level = "watch"
    alerts.raise_for_risk_changes([(course, "at_risk")])
    alert = StaffAlert.objects.get(kind="at_risk")
    assert alert.acknowledged_at is not None
    assert alert.settled_reason == "Settled: the course is watch again."


@pytest.mark.parametrize("target", ["completed", "discontinued"])
def test_an_at_risk_alert_settles_when_the_course_ends(course: Any, target: str) -> None:
    TreatmentCourse.objects.filter(pk=course.pk).update(status="active", risk_level="at_risk")
    course.refresh_from_db()
    alerts.raise_for_risk_changes([(course, "watch")])
    services.course_transition(course, target, by=course.psychiatrist, reason="done")
    alert = StaffAlert.objects.get(kind="at_risk")
    assert alert.acknowledged_at is not None
    assert alert.settled_reason == f"Settled: the course was {target}."


def test_the_dashboard_acknowledges_several_alerts_at_once(
    course: Any, client: Any, staff: Any
) -> None:
    other_course = CourseFactory(patient=PatientFactory(clinic=course.patient.clinic))
    mine = [
        StaffAlert.objects.create(
            recipient=course.psychiatrist, course=c, kind="at_risk", detail="d", key=f"k{c.pk}"
        )
        for c in (course, other_course)
    ]
    someone_elses = StaffAlert.objects.create(
        recipient=staff(Role.PSYCHIATRIST), course=course, kind="at_risk", detail="d", key="x"
    )
    client.force_login(course.psychiatrist)
    page = client.get("/courses/mine/").content.decode()
    assert 'form="acknowledge-many"' in page
    response = client.post(
        "/courses/alerts/acknowledge/",
        {"alert": [mine[0].pk, mine[1].pk, someone_elses.pk, "99999999999999999999999"]},
    )
    assert response.status_code == 302
    assert StaffAlert.objects.filter(pk__in=[a.pk for a in mine], acknowledged_at=None).count() == 0
    someone_elses.refresh_from_db()
    assert someone_elses.acknowledged_at is None
    client.logout()
    assert client.post("/courses/alerts/acknowledge/", {"alert": [mine[0].pk]}).status_code == 302
    assert client.post("/courses/alerts/acknowledge/").url.startswith("/accounts/login/")
