"""Sending the outbox: a worker claims a batch of due rows with one conditional update
and a lease (one claim token for the batch), sends them one by one through their
channel's transport and stores each provider id as it comes; a sweeper returns rows
whose lease ran out (a crashed worker) to the queue; delivery status callbacks never
move a row back from a final state.

Per batch, not per message: the claim, reading the rows with their patient, clinic,
policy and session, and whether missed sessions have a make-up booked. Per message:
the send and the stored result (so a crash loses at most the one message in flight,
which goes again under the same idempotency key), and for routine reminders the cap
check under the patient's row lock. Why and what it costs: docs/reminders.md,
"Sending". The lease's sweeper, result guard and backoff are shared with the webhook
deliveries (services/lease.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from clinic.models import Patient
from courses.relapse import PointState, point_state
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
# A batch starts no new message after this share of its lease (nor after
# BATCH_MAX_SECONDS, well inside Celery's soft time limit of 60 s): what is left goes
# back to the queue while the claim surely still holds.
BATCH_LEASE_SHARE = 0.5
BATCH_MAX_SECONDS = 30
NOT_CLAIMED = "not_claimed"


# What one dispatcher tick queues at most: a large deployment's morning (20,000 texts in
# a quarter of an hour) or a backlog after an outage, at once. Rows still pending at the
# next tick are queued again; a batch of ids already sent claims nothing.
DUE_PER_TICK = 20_000


def due_ids(now: dt.datetime | None = None, limit: int = 1000) -> list[int]:
    return lease.due_ids(Notification, now or timezone.now(), limit)


def release_expired_leases(now: dt.datetime | None = None) -> int:
    """Rows whose worker died mid-send go back to the queue."""
    return lease.release_expired(Notification, now or timezone.now())


def claim_batch(notification_ids: Sequence[int], now: dt.datetime | None = None) -> uuid.UUID:
    """Take the rows among ``notification_ids`` that are pending and due for this worker:
    -> sending, with a lease and one claim token, in one conditional UPDATE. Rows
    another worker is claiming at this instant are skipped (SKIP LOCKED), not waited
    for. Returns the token; the rows claimed are those that carry it."""
    now = now or timezone.now()
    expires = now + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    token = uuid.uuid4()
    due = Notification.objects.filter(
        pk__in=list(notification_ids), status=Status.PENDING, scheduled_for__lte=now
    ).select_for_update(skip_locked=True)
    with transaction.atomic():  # FOR UPDATE needs a transaction; it is this one statement
        Notification.objects.filter(pk__in=due.values("pk")).update(
            status=Status.SENDING, lease_expires_at=expires, claim_token=token, updated_at=now
        )
    return token


def claim(notification_id: int, now: dt.datetime | None = None) -> uuid.UUID | None:
    """Take one row (see ``claim_batch``): its claim's token, or None when another
    worker has it or it is not due."""
    token = claim_batch([notification_id], now)
    return token if Notification.objects.filter(claim_token=token).exists() else None


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


@dataclass
class BatchResult:
    """Each id's outcome (a status, or ``not_claimed``), and the ids given back to the
    queue unsent because the batch ran out of time (pending again: the next
    dispatch_due queues them)."""

    statuses: dict[int, str] = field(default_factory=dict)
    released: list[int] = field(default_factory=list)


def send_batch(notification_ids: Sequence[int]) -> BatchResult:
    """Claim the due rows among ``notification_ids`` at once, then check, render, send
    and record each (``_send_one``). Rows not claimed (another worker has them, they
    are not due, or no longer pending) are left alone."""
    started = timezone.now()
    token = claim_batch(notification_ids, started)
    result = BatchResult(dict.fromkeys(notification_ids, NOT_CLAIMED))
    rows = list(
        Notification.objects.filter(claim_token=token)
        .select_related("patient", "clinic__reminder_policy", "session", "watch_point__watch")
        .order_by("scheduled_for", "id")
    )
    if not rows:
        return result
    lease = dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    stop_at = started + min(lease * BATCH_LEASE_SHARE, dt.timedelta(seconds=BATCH_MAX_SECONDS))
    made_up = _sessions_made_up(rows)
    with _not_waiting_for_the_disk():
        for index, notification in enumerate(rows):
            now = timezone.now()
            if index and now >= stop_at:  # the first always goes: every batch moves on
                result.released = _give_back(rows[index:], token, now)
                result.statuses.update(dict.fromkeys(result.released, Status.PENDING))
                break
            result.statuses[notification.pk] = _send_one(notification, token, now, made_up)
    return result


@contextlib.contextmanager
def _not_waiting_for_the_disk() -> Iterator[None]:
    """On PostgreSQL, the results of a batch commit without waiting for the WAL to reach
    the disk (``synchronous_commit`` off for the batch): that wait, once a message, was
    the largest part of a message's time. A crash of the database server can then lose
    the last fraction of a second's results; those rows are back to "sending" after its
    recovery, their leases run out, and they go again under their idempotency keys,
    as after a worker's crash (docs/reminders.md, "Sending")."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def send(notification_id: int) -> str:
    """Claim, check, render, send and record one notification; returns its status."""
    return send_batch([notification_id]).statuses[notification_id]


def _sessions_made_up(rows: list[Notification]) -> set[int]:
    """The sessions (of the rows about past sessions) with an upcoming make-up booked:
    one query for the batch."""
    past = {n.session_id for n in rows if n.kind in PAST_SESSION_KINDS and n.session_id}
    if not past:
        return set()
    made_up = Session.objects.filter(makeup_for__in=past, status__in=UPCOMING)
    return {pk for pk in made_up.values_list("makeup_for", flat=True) if pk is not None}


def _give_back(rows: list[Notification], token: uuid.UUID, now: dt.datetime) -> list[int]:
    """Return claimed rows unsent to the queue (those this claim still holds)."""
    ids = [n.pk for n in rows]
    Notification.objects.filter(pk__in=ids, status=Status.SENDING, claim_token=token).update(
        status=Status.PENDING, lease_expires_at=None, claim_token=None, updated_at=now
    )
    return ids


def _send_one(
    notification: Notification, token: uuid.UUID, now: dt.datetime, made_up: set[int]
) -> str:
    """Check (contact, session still upcoming, send window, caps), render, send and
    record one claimed notification; returns its status. ``made_up``: the sessions with
    a make-up booked (``_sessions_made_up``)."""
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
    point = notification.watch_point
    if point is not None and point_state(point, clinic.today()) != PointState.OPEN:
        _finish(notification, token, status=Status.CANCELLED, reason="questionnaire not open")
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
    made_up_before = session is not None and session.pk in made_up
    if notification.kind in UNCAPPED_KINDS:  # changes and misses go, whatever the caps
        return _deliver(notification, token, now, made_up_before)
    # Routine reminders to one patient queue on the patient's row from the cap check to
    # the stored result, so two sent at the same moment cannot both pass the cap.
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if _over_cap(notification, policy, now):
            _finish(notification, token, status=Status.SUPPRESSED, reason="frequency cap reached")
            return Status.SUPPRESSED
        return _deliver(notification, token, now, made_up_before)


def _session_link(notification: Notification) -> str:
    """The session's page for the patient: the short link in a text, the full one in an
    email; none for messages that need no answer. A questionnaire's link is short in
    both."""
    if notification.watch_point is not None:
        return links.watch_link(notification.watch_point)
    session = notification.session
    if session is None or notification.kind not in LINKED_KINDS:
        return ""
    if notification.channel == Channel.SMS:
        return links.short_session_link(session)
    return links.session_link(session)


def _deliver(notification: Notification, token: uuid.UUID, now: dt.datetime, made_up: bool) -> str:
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
        makeup_booked=notification.kind in PAST_SESSION_KINDS and made_up,
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
