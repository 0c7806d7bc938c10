"""Celery application: JSON only, UTC, late acks, two queues, beat schedule in code."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("cadence")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    task_soft_time_limit=60,
    task_time_limit=90,
    # A task is acknowledged after it ran, so a worker killed mid-task leaves it queued;
    # every task is therefore written to be idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    task_routes={"notifications.tasks.*": {"queue": "reminders"}},
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        "plan-reminders": {
            "task": "notifications.tasks.plan_reminders",
            "schedule": crontab(minute="*/5"),
        },
        "dispatch-due-notifications": {
            "task": "notifications.tasks.dispatch_due",
            "schedule": crontab(minute="*"),
        },
        "dispatch-due-webhooks": {
            "task": "notifications.tasks.dispatch_webhooks",
            "schedule": crontab(minute="*"),
        },
        "sweep-missed-sessions": {
            "task": "scheduling.tasks.sweep_missed_sessions",
            "schedule": crontab(minute="*/5"),
        },
        "recompute-risk-nightly": {
            "task": "scheduling.tasks.recompute_risk_nightly",
            "schedule": crontab(minute=30, hour=7),  # 02:30-03:30 on the US east coast
        },
        "daily-at-risk-digests": {
            "task": "courses.tasks.send_daily_digests",
            "schedule": crontab(minute=0),  # hourly; each clinic at 07:00 its own time
        },
        "escalate-overdue-alerts": {
            "task": "courses.tasks.escalate_overdue_alerts",
            "schedule": crontab(minute="*/5"),
        },
        "purge-expired-audit-events": {
            "task": "clinic.tasks.purge_expired_audit_events",
            "schedule": crontab(minute=43, hour=8),
        },
        "purge-expired-logins": {
            "task": "clinic.tasks.purge_expired_logins",
            "schedule": crontab(minute=17, hour="*/6"),
        },
    },
)
app.autodiscover_tasks()
