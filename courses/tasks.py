from __future__ import annotations

from celery import shared_task

from courses import alerts, escalation


@shared_task(name="courses.tasks.email_staff_alerts")
def email_staff_alerts(alert_ids: list[int]) -> int:
    return alerts.email_alerts(alert_ids)


@shared_task(name="courses.tasks.send_daily_digests")
def send_daily_digests() -> int:
    """Hourly; each clinic's digest goes out in its own 07:00 hour."""
    return alerts.send_daily_digests()


@shared_task(name="courses.tasks.escalate_overdue_alerts")
def escalate_overdue_alerts() -> int:
    """Every five minutes: unacknowledged safety-flag and adverse-event alerts past
    their clinic's escalation time reach its other psychiatrists and its admins."""
    return escalation.escalate_overdue_alerts()
