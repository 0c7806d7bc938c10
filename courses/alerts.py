"""Staff alerts: a course turning at risk, any safety flag and any adverse event alert
the course's psychiatrist at once (in the app and by email); a daily digest of at-risk
courses goes to front desk and psychiatrists at 07:00 clinic-local. A safety flag or
adverse event nobody acknowledges in time escalates (courses.escalation). Never sent to
patients."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from clinic.capabilities import Capability, roles_for
from clinic.models import Clinic, StaffMembership
from courses.instruments import INSTRUMENTS
from courses.models import (
    AlertKind,
    DigestSent,
    Relapse,
    RiskLevel,
    SafetyFlag,
    StaffAlert,
    TreatmentCourse,
)

DIGEST_HOUR = 7


def enqueue_email(alert_ids: list[int]) -> None:
    if alert_ids:
        from courses.tasks import email_staff_alerts

        transaction.on_commit(partial(email_staff_alerts.delay, alert_ids))


def _safety_key(flag: SafetyFlag) -> str:
    return f"safety:{flag.pk}"


def raise_for_safety_flag(flag: SafetyFlag) -> None:
    course = flag.course
    scale = INSTRUMENTS[flag.assessment.instrument]
    alert, created = StaffAlert.objects.get_or_create(
        key=_safety_key(flag),
        defaults={
            "recipient_id": course.psychiatrist_id,
            "course": course,
            "kind": AlertKind.SAFETY_FLAG,
            "detail": (
                f"{scale.name} item {scale.suicide_item} (thoughts of self-harm) answered "
                f"{flag.item_value} on {flag.assessment.administered_on:%d %b %Y}. "
                "Review today."
            ),
        },
    )
    if created:
        enqueue_email([alert.pk])


def _relapse_key(relapse: Relapse) -> str:
    return f"relapse:{relapse.pk}"


def raise_for_relapse(relapse: Relapse) -> None:
    """A patient-reported score met the relapse rule: the psychiatrist hears at once."""
    alert, created = StaffAlert.objects.get_or_create(
        key=_relapse_key(relapse),
        defaults={
            "recipient_id": relapse.course.psychiatrist_id,
            "course": relapse.course,
            "kind": AlertKind.RELAPSE,
            "detail": (
                f"Possible relapse: PHQ-9 of {relapse.score} reported by the patient on "
                f"{relapse.assessment.administered_on:%d %b %Y} (the course ended at "
                f"{relapse.baseline}). The course page offers a booster course."
            ),
        },
    )
    if created:
        enqueue_email([alert.pk])


def settle_relapse(relapse: Relapse) -> int:
    """A closed relapse entry's alert needs no second acknowledgement."""
    return _acknowledge(StaffAlert.objects.filter(key=_relapse_key(relapse)))


def _adverse_event_key(event_id: int) -> str:
    return f"adverse_event:{event_id}"


def raise_for_adverse_event(
    course: TreatmentCourse, event_id: int, what: str, day: dt.date
) -> StaffAlert:
    """``what``: the kind of event, in words; ``day``: the clinic-local date of its
    session. The event itself lives with the sessions (scheduling.models.AdverseEvent)."""
    alert, created = StaffAlert.objects.get_or_create(
        key=_adverse_event_key(event_id),
        defaults={
            "recipient_id": course.psychiatrist_id,
            "course": course,
            "kind": AlertKind.ADVERSE_EVENT,
            "detail": (
                f"{what} recorded with the session of {day:%d %b %Y}. The course is on hold: "
                "its sessions cannot be checked in or completed until a psychiatrist records "
                "a decision on the course page."
            ),
        },
    )
    if created:
        enqueue_email([alert.pk])
    return alert


def settle_adverse_event(event_id: int) -> int:
    """A decided adverse event's alert needs no second acknowledgement."""
    return _acknowledge(StaffAlert.objects.filter(key=_adverse_event_key(event_id)))


def raise_for_risk_changes(changed: Iterable[tuple[TreatmentCourse, str]]) -> None:
    """``changed``: (course, previous level) of courses whose stored level changed. A
    course alerts at most once a day, by the clinic's own date."""
    alerts = []
    calmer: dict[str, list[int]] = {}
    for course, previous in changed:
        if previous == RiskLevel.AT_RISK and course.risk_level != RiskLevel.AT_RISK:
            calmer.setdefault(course.risk_level, []).append(course.pk)
        if course.risk_level != RiskLevel.AT_RISK or previous == RiskLevel.AT_RISK:
            continue
        today = course.patient.clinic.today()
        alerts.append(
            StaffAlert(
                recipient_id=course.psychiatrist_id,
                course=course,
                kind=AlertKind.AT_RISK,
                detail="The course is now at risk; its progress page lists the reasons.",
                key=f"at_risk:{course.pk}:{today.isoformat()}",
            )
        )
    for level, course_ids in calmer.items():
        label = RiskLevel(level).label.lower() if level == RiskLevel.WATCH else "on track"
        settle_risk_alerts(course_ids, f"Settled: the course is {label} again.")
    if not alerts:
        return
    StaffAlert.objects.bulk_create(alerts, ignore_conflicts=True)
    # ignore_conflicts leaves every pk unset on PostgreSQL: read the rows back by key.
    # An alert of the same day emailed already is not queued again; one still waiting is
    # (emailing claims each alert once).
    waiting = StaffAlert.objects.filter(
        key__in=[alert.key for alert in alerts], emailed_at__isnull=True
    ).values_list("pk", flat=True)
    enqueue_email(list(waiting))


def email_alerts(alert_ids: Iterable[int]) -> int:
    """Email each alert once (the conditional update claims it first)."""
    sent = 0
    for alert in StaffAlert.objects.filter(pk__in=list(alert_ids)).select_related(
        "recipient", "course"
    ):
        claimed = StaffAlert.objects.filter(pk=alert.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not claimed or not alert.recipient.email:
            continue
        send_mail(
            subject=f"Cadence: {alert.get_kind_display()} (course {alert.course_id})",
            message=f"{alert.detail}\n\nOpen Cadence to review course {alert.course_id}.",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[alert.recipient.email],
        )
        sent += 1
    return sent


def settle_risk_alerts(course_ids: Iterable[int], reason: str) -> int:
    """The at-risk alerts of these courses that nobody acknowledged settle themselves:
    their cause went away (risk back to watch or ok, the course ended)."""
    return StaffAlert.objects.filter(
        course_id__in=list(course_ids), kind=AlertKind.AT_RISK, acknowledged_at__isnull=True
    ).update(acknowledged_at=timezone.now(), settled_reason=reason)


def _acknowledge(alerts: QuerySet[StaffAlert]) -> int:
    """Acknowledge these alerts; someone has seen the cause, so its escalations settle:
    those of an acknowledged alert, and the other recipients' copies of an acknowledged
    escalation."""
    ids = list(alerts.filter(acknowledged_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return 0
    now = timezone.now()
    done = StaffAlert.objects.filter(pk__in=ids, acknowledged_at__isnull=True).update(
        acknowledged_at=now
    )
    causes = set(ids) | set(
        StaffAlert.objects.filter(pk__in=ids, escalates__isnull=False).values_list(
            "escalates_id", flat=True
        )
    )
    StaffAlert.objects.filter(escalates_id__in=causes, acknowledged_at__isnull=True).update(
        acknowledged_at=now, settled_reason="Settled: someone else acknowledged it."
    )
    return done


def acknowledge_many(recipient: Any, alert_ids: Iterable[int]) -> int:
    """Acknowledge several of ``recipient``'s alerts at once (others' ids change nothing)."""
    return _acknowledge(StaffAlert.objects.filter(recipient=recipient, pk__in=list(alert_ids)))


def settle_safety_flag(flag: SafetyFlag) -> int:
    """A reviewed safety flag's alert needs no second acknowledgement."""
    return _acknowledge(StaffAlert.objects.filter(key=_safety_key(flag)))


def acknowledge(alert: StaffAlert) -> StaffAlert:
    _acknowledge(StaffAlert.objects.filter(pk=alert.pk))
    alert.refresh_from_db()
    return alert


def send_daily_digests(now: dt.datetime | None = None) -> int:
    """Hourly: clinics where it is now 07:xx get their digest, once a day per person
    (a DigestSent row claims it first, so two runs never send it twice)."""
    now = now or timezone.now()
    sent = 0
    for clinic in Clinic.objects.all():
        local = now.astimezone(clinic.tz)
        if local.hour != DIGEST_HOUR:
            continue
        courses = list(
            TreatmentCourse.objects.filter(
                patient__clinic=clinic, risk_level=RiskLevel.AT_RISK
            ).select_related("patient", "protocol")
        )
        if not courses:
            continue
        lines = [
            f"- course {c.pk}: {c.patient.first_name} {c.patient.last_name[:1]}." for c in courses
        ]
        recipients = StaffMembership.objects.filter(
            clinic=clinic, role__in=roles_for(Capability.RECEIVE_RISK_DIGEST)
        ).select_related("user")
        for membership in recipients:
            user: Any = membership.user
            if not user.email:
                continue
            _, first = DigestSent.objects.get_or_create(
                clinic=clinic, recipient=user, day=local.date()
            )
            if not first:
                continue
            send_mail(
                subject=f"Cadence: {len(courses)} course(s) at risk today",
                message="Courses at risk at " + clinic.name + ":\n" + "\n".join(lines),
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[user.email],
            )
            sent += 1
    return sent
