"""Planning the relapse watch's questionnaire links (docs/relapse-watch.md): run with
the reminders' planning (the ``plan_reminders`` beat task), it writes one outbox row
per channel chosen for the patient (consent and contact, policy.chosen) for each open
watch point whose day comes within the planning horizon. The link goes at CHECKIN_AT on
the point's day in the clinic's time zone, moved into the send window; the frequency
caps apply when it is sent, and dispatch checks consent again then, and that the
questionnaire is still open (services/dispatch.py)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from courses.models import WatchPoint
from notifications.models import Kind, Notification
from notifications.services.policy import chosen, policy_for, within_window

CHECKIN_AT = dt.time(10, 0)  # clinic-local, on the point's day


def checkin_key(point_id: int, channel: str) -> str:
    return f"w{point_id}:{Kind.WATCH_CHECKIN}:{channel}"


def plan_watch_checkins(now: dt.datetime | None = None) -> int:
    """Write the questionnaire links due within the horizon; idempotent (existing keys
    are skipped). Returns how many rows were written."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(hours=settings.REMINDER_HORIZON_HOURS)
    # A day's margin either side in UTC; each point is then judged on its clinic's day.
    points = list(
        WatchPoint.objects.filter(
            answered_at__isnull=True,
            watch__active=True,
            due_on__lte=horizon.date() + dt.timedelta(days=1),
            expires_on__gte=now.date() - dt.timedelta(days=1),
        )
        .select_related(
            "watch__course__patient__clinic__reminder_policy",
        )
        .order_by("due_on", "id")
    )
    existing = set(
        Notification.objects.filter(watch_point__in=points).values_list(
            "idempotency_key", flat=True
        )
    )
    rows = []
    for point in points:
        patient = point.watch.course.patient
        clinic = patient.clinic
        due = dt.datetime.combine(point.due_on, CHECKIN_AT, tzinfo=clinic.tz)
        if due > horizon:
            continue
        scheduled_for = within_window(max(due, now), clinic, policy_for(clinic))
        if scheduled_for.astimezone(clinic.tz).date() > point.expires_on:
            continue  # planned too late: the link would be dead on arrival
        channels = chosen(
            patient.phone,
            patient.email,
            patient.sms_consent,
            patient.email_consent,
            patient.preferred_channel,
        )
        rows += [
            Notification(
                clinic=clinic,
                patient=patient,
                watch_point=point,
                channel=channel,
                kind=Kind.WATCH_CHECKIN,
                idempotency_key=checkin_key(point.pk, channel),
                scheduled_for=scheduled_for,
            )
            for channel in channels
            if checkin_key(point.pk, channel) not in existing
        ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
