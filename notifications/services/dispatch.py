"""Sending the outbox: workers claim a due row with a conditional update and a lease
(services/lease.py, shared with the webhook deliveries), send it through its channel's
transport and store the provider id; a sweeper returns rows whose lease ran out (a
crashed worker) to the queue; delivery status callbacks never move a row back from a
final state."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.models import Patient
from notifications import content, links
from notifications.models import (
    PAST_SESSION_KINDS,
    UNCAPPED_KINDS,
    Channel,
    Kind,
    Notification,
    ReminderPolicy,
    Status,
)
from notifications.services import lease
from notifications.services.outbox import LINKED_KINDS, suppression
from notifications.services.policy import policy_for, reachable_channels, within_window
from notifications.transports import Outgoing, PermanentError, TransientError, transport_for
from scheduling.models import UPCOMING, Session, SessionStatus

MAX_ATTEMPTS = 6


BACKOFF_BASE_SECONDS = 30


def due_ids(now: dt.datetime | None = None, limit: int = 1000) -> list[int]:
    return lease.due_ids(Notification, now or timezone.now(), limit)


def release_expired_leases(now: dt.datetime | None = None) -> int:
    """Rows whose worker died mid-send go back to the queue."""
    return lease.release_expired(Notification, now or timezone.now())


def claim(notification_id: int, now: dt.datetime | None = None) -> uuid.UUID | None:
    """Take the row for this worker (services/lease.py); None when another worker has
    it, or it is not due."""
    return lease.claim(
        Notification,
        notification_id,
        now or timezone.now(),
        settings.NOTIFICATION_LEASE_SECONDS,
    )


def _finish(notification: Notification, token: uuid.UUID, **changes: Any) -> bool:
    return lease.finish(Notification, notification.pk, token, timezone.now(), **changes)


def _over_cap(notification: Notification, policy: ReminderPolicy, now: dt.datetime) -> bool:
    """Routine reminders already sent today or this week reach the policy's caps."""
    if notification.kind in UNCAPPED_KINDS:
        return False
    tz = notification.clinic.tz
    local_today = now.astimezone(tz).date()
    day_start = dt.datetime.combine(local_today, dt.time(0), tzinfo=tz)
    week_start = day_start - dt.timedelta(days=local_today.weekday())
    per_day, per_week = (
        (policy.sms_per_day, policy.sms_per_week)
        if notification.channel == Channel.SMS
        else (policy.email_per_day, policy.email_per_week)
    )
    mine = Notification.objects.filter(
        patient=notification.patient, channel=notification.channel
    ).exclude(kind__in=UNCAPPED_KINDS)
    sent_times = [
        at for at in mine.filter(sent_at__gte=week_start).values_list("sent_at", flat=True) if at
    ]
    sent_today = sum(1 for at in sent_times if at >= day_start)
    return sent_today >= per_day or len(sent_times) >= per_week


def send(notification_id: int) -> str:
    """Claim, check (contact, session still upcoming, send window, caps), render, send
    and record one notification; returns its status."""
    now = timezone.now()
    token = claim(notification_id, now)
    if token is None:
        return "not_claimed"
    notification = Notification.objects.select_related("patient", "clinic", "session").get(
        pk=notification_id
    )
    patient, clinic, session = notification.patient, notification.clinic, notification.session
    policy = policy_for(clinic)
    if notification.channel not in reachable_channels(patient):
        _finish(notification, token, status=Status.SUPPRESSED, reason="no consent or no contact")
        return Status.SUPPRESSED
    if (
        session is not None
        and notification.kind not in PAST_SESSION_KINDS
        and (session.status != SessionStatus.SCHEDULED or session.starts_at <= now)
    ):
        _finish(notification, token, status=Status.CANCELLED, reason="session no longer upcoming")
        return Status.CANCELLED
    # Due, but at night: a backlog after an outage, or a retry that ran past the window.
    opens = within_window(now, clinic, policy)
    if opens > now:
        reason = suppression(notification.kind, opens, session.starts_at if session else None)
        if reason:
            _finish(notification, token, status=Status.SUPPRESSED, reason=reason)
            return Status.SUPPRESSED
        _finish(notification, token, status=Status.PENDING, scheduled_for=opens)
        return Status.PENDING
    if notification.kind in UNCAPPED_KINDS:  # changes and misses go, whatever the caps
        return _deliver(notification, token, now)
    # Routine reminders to one patient queue on the patient's row from the cap check to
    # the stored result, so two sent at the same moment cannot both pass the cap.
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if _over_cap(notification, policy, now):
            _finish(notification, token, status=Status.SUPPRESSED, reason="frequency cap reached")
            return Status.SUPPRESSED
        return _deliver(notification, token, now)


def _session_link(notification: Notification) -> str:
    """The session's page for the patient: the short link in a text, the full one in an
    email; none for messages that need no answer."""
    session = notification.session
    if session is None or notification.kind not in LINKED_KINDS:
        return ""
    if notification.channel == Channel.SMS:
        return links.short_session_link(session)
    return links.session_link(session)


def _deliver(notification: Notification, token: uuid.UUID, now: dt.datetime) -> str:
    patient, clinic, session = notification.patient, notification.clinic, notification.session
    message = content.render(
        notification.kind,
        notification.channel,
        patient=patient,
        clinic=clinic,
        at=session.starts_at if session is not None else None,
        previous_at=notification.previous_starts_at,
        link=_session_link(notification),
        calendar_link=links.calendar_link(session.course)
        if session is not None and notification.kind == Kind.COURSE_BOOKED
        else "",
        makeup_booked=notification.kind in PAST_SESSION_KINDS
        and session is not None
        and Session.objects.filter(makeup_for=session, status__in=UPCOMING).exists(),
    )
    outgoing = Outgoing(
        to=patient.phone if notification.channel == Channel.SMS else patient.email,
        subject=message.subject,
        body=message.body,
        idempotency_key=notification.idempotency_key,
        status_callback=settings.SMS_STATUS_CALLBACK_URL or None,
    )
    try:
        provider_id = transport_for(notification.channel).send(outgoing)
    except TransientError as exc:
        attempts = notification.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            _finish(
                notification, token, status=Status.FAILED, attempts=attempts, last_error=str(exc)
            )
            return Status.FAILED
        _finish(
            notification,
            token,
            status=Status.PENDING,
            attempts=attempts,
            scheduled_for=lease.retry_at(now, attempts, BACKOFF_BASE_SECONDS),
            last_error=str(exc),
        )
        return Status.PENDING
    except PermanentError as exc:
        _finish(notification, token, status=Status.FAILED, reason=str(exc), last_error=str(exc))
        if not exc.blames_contact:
            return Status.FAILED
        Patient.objects.filter(pk=patient.pk).update(
            contact_problem=f"{notification.channel}: {exc}"
        )
        return Status.FAILED
    _finish(
        notification,
        token,
        status=Status.SENT,
        provider_message_id=provider_id,
        sent_at=timezone.now(),
        body=message.body,
        attempts=notification.attempts + 1,
    )
    return Status.SENT


PROVIDER_STATUS = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
    "sent": Status.SENT,
}


def record_delivery_status(provider_message_id: str, provider_status: str) -> int:
    """Apply a status callback. Replays and out-of-order callbacks never move a row back
    from a final state (delivered, failed)."""
    target = PROVIDER_STATUS.get(provider_status.lower())
    if target is None or not provider_message_id:
        return 0
    now = timezone.now()
    changes: dict[str, Any] = {"status": target, "updated_at": now}
    if target == Status.DELIVERED:
        changes["delivered_at"] = now
    if target == Status.FAILED:
        changes["reason"] = f"provider reported {provider_status.lower()}"
    movable = Q(status__in=[Status.SENDING, Status.SENT]) & ~Q(status=target)
    return Notification.objects.filter(movable, provider_message_id=provider_message_id).update(
        **changes
    )
