"""Escalation: a safety flag or an adverse event whose alert the course's psychiatrist
has not acknowledged within the clinic's escalation time (``Clinic.escalation_minutes``
of opening hours, default two hours) alerts the clinic's other psychiatrists and its
clinic admins (Capability.RECEIVE_ESCALATIONS), in the app and by email.

Once per cause: the original alert's ``escalated_at`` is claimed with a conditional
update before anything is written, and each escalation's key names the original and its
recipient, so two runs at once escalate it once. An acknowledged or settled alert (a
reviewed flag, a decided adverse event) is never escalated; acknowledging the original
or any copy of its escalation settles the others (courses.alerts)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from clinic.capabilities import Capability, roles_for
from clinic.models import Clinic, StaffMembership
from clinic.opening_time import clinic_closures, clinic_hours, opening_time_ends
from courses.alerts import enqueue_email
from courses.models import ESCALATING_KINDS, AlertKind, StaffAlert


def _due(clinic: Clinic, alerts: list[StaffAlert], now: dt.datetime) -> list[StaffAlert]:
    """The alerts whose escalation time of opening hours has passed by ``now``."""
    hours = clinic_hours(clinic)
    earliest = min(alert.created_at for alert in alerts).astimezone(clinic.tz).date()
    closures = clinic_closures(clinic, earliest)
    due = []
    for alert in alerts:
        ends = opening_time_ends(
            alert.created_at,
            clinic.escalation_minutes,
            hours=hours,
            closures=closures,
            tz=clinic.tz,
        )
        if ends is not None and ends <= now:
            due.append(alert)
    return due


def _escalation_text(alert: StaffAlert, minutes: int) -> str:
    span = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    head = (
        f"Not acknowledged by the course's psychiatrist within {span} of opening hours "
        f"({alert.get_kind_display().lower()}): "
    )
    return (head + alert.detail)[:300]


@transaction.atomic
def escalate(alert: StaffAlert, clinic: Clinic, now: dt.datetime) -> bool:
    """Escalate one alert, once: the claim on ``escalated_at`` decides (False: another
    run did, or someone acknowledged it meanwhile). The escalations are emailed after
    the commit."""
    claimed = StaffAlert.objects.filter(
        pk=alert.pk, acknowledged_at__isnull=True, escalated_at__isnull=True
    ).update(escalated_at=now)
    if not claimed:
        return False
    recipients = (
        StaffMembership.objects.filter(
            clinic=clinic,
            role__in=roles_for(Capability.RECEIVE_ESCALATIONS),
            user__is_active=True,
        )
        .exclude(user_id=alert.recipient_id)
        .values_list("user_id", flat=True)
        .distinct()
    )
    detail = _escalation_text(alert, clinic.escalation_minutes)
    StaffAlert.objects.bulk_create(
        [
            StaffAlert(
                recipient_id=user_id,
                course_id=alert.course_id,
                kind=AlertKind.ESCALATION,
                escalates=alert,
                detail=detail,
                key=f"escalation:{alert.pk}:{user_id}",
            )
            for user_id in recipients
        ],
        ignore_conflicts=True,
    )
    # ignore_conflicts leaves the pks unset on PostgreSQL: read the rows back.
    waiting = list(
        StaffAlert.objects.filter(escalates=alert, emailed_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    enqueue_email(waiting)
    return True


def escalate_overdue_alerts(now: dt.datetime | None = None) -> int:
    """Every few minutes: escalate the safety-flag and adverse-event alerts nobody
    acknowledged within their clinic's escalation time. Returns how many escalated.

    Opening time never runs faster than the wall clock, so only alerts at least the
    shortest allowed time old are read (an index holds the unacknowledged ones)."""
    now = now or timezone.now()
    candidates: dict[int, list[StaffAlert]] = defaultdict(list)
    clinics: dict[int, Clinic] = {}
    for alert in StaffAlert.objects.filter(
        kind__in=ESCALATING_KINDS,
        acknowledged_at__isnull=True,
        escalated_at__isnull=True,
        created_at__lte=now - dt.timedelta(minutes=1),
    ).select_related("course__patient__clinic"):
        clinic = alert.course.patient.clinic
        if alert.created_at + dt.timedelta(minutes=clinic.escalation_minutes) > now:
            continue
        clinics[clinic.pk] = clinic
        candidates[clinic.pk].append(alert)
    escalated = 0
    for clinic_id, alerts in candidates.items():
        clinic = clinics[clinic_id]
        for alert in _due(clinic, alerts, now):
            escalated += escalate(alert, clinic, now)
    return escalated
