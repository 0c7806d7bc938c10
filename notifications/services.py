"""The outbox: writing notifications with the changes that cause them, planning
reminders, claiming and sending them, and the consent ledger.

Nothing is lost or sent twice: rows are written in the same transaction as the change
that causes them, each has a unique idempotency key, workers claim a row with a
conditional update and a lease before sending, and a sweeper returns rows whose lease
ran out (a crashed worker) to the queue. Only ids travel through the broker.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from clinic.models import Clinic, Patient
from notifications import content, links
from notifications.models import (
    CHANGE_KINDS,
    Channel,
    ConsentEvent,
    Kind,
    Notification,
    ReminderPolicy,
    Status,
)
from notifications.transports import Outgoing, PermanentError, TransientError, transport_for
from scheduling.models import Session, SessionKind, SessionStatus

MAX_ATTEMPTS = 6
# Reminders of an upcoming session carry a confirm/cancel link (in email).
LINKED_KINDS = (Kind.FIRST_SESSION, Kind.DAY_BEFORE, Kind.SESSION_MOVED)
BACKOFF_BASE_SECONDS = 30


# --- consent ---------------------------------------------------------------------------


@transaction.atomic
def consent_record(
    patient: Patient,
    channel: str,
    *,
    granted: bool,
    source: str,
    by: Any = None,
    text_version: str = "2026-11",
) -> ConsentEvent:
    """Append to the ledger and update the patient's current consent in one go."""
    event = ConsentEvent.objects.create(
        patient=patient,
        channel=channel,
        granted=granted,
        source=source,
        recorded_by=by,
        text_version=text_version,
    )
    field = "sms_consent" if channel == Channel.SMS else "email_consent"
    Patient.objects.filter(pk=patient.pk).update(**{field: granted})
    setattr(patient, field, granted)
    if not granted:
        cancel_pending(
            Notification.objects.filter(patient=patient, channel=channel), "consent revoked"
        )
    return event


def reachable_channels(patient: Patient) -> list[str]:
    return _reachable(patient.phone, patient.email, patient.sms_consent, patient.email_consent)


def _reachable(phone: str, email: str, sms_consent: bool, email_consent: bool) -> list[str]:
    channels: list[str] = []
    if sms_consent and phone:
        channels.append(Channel.SMS)
    if email_consent and email:
        channels.append(Channel.EMAIL)
    return channels


# --- timing ----------------------------------------------------------------------------


def policy_for(clinic: Clinic) -> ReminderPolicy:
    """The clinic's policy; the defaults (unsaved) until an admin changes something."""
    try:
        return clinic.reminder_policy
    except ReminderPolicy.DoesNotExist:
        return ReminderPolicy(clinic=clinic)


@transaction.atomic
def policy_update(clinic: Clinic, **fields: Any) -> ReminderPolicy:
    policy, _ = ReminderPolicy.objects.select_for_update().get_or_create(clinic=clinic)
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean(validate_unique=False, validate_constraints=False)
    policy.save()
    return policy


def within_window(moment: dt.datetime, clinic: Clinic, policy: ReminderPolicy) -> dt.datetime:
    """Move a send time into the clinic's send window (patients are clinic-local)."""
    local = moment.astimezone(clinic.tz)
    if local.time() < policy.window_start:
        local = dt.datetime.combine(local.date(), policy.window_start, tzinfo=clinic.tz)
    elif local.time() >= policy.window_end:
        next_day = local.date() + dt.timedelta(days=1)
        local = dt.datetime.combine(next_day, policy.window_start, tzinfo=clinic.tz)
    return local


def reminder_time(
    kind: str, starts_at: dt.datetime, clinic: Clinic, policy: ReminderPolicy
) -> dt.datetime:
    """When a reminder of a session starting at ``starts_at`` is due."""
    local_day = starts_at.astimezone(clinic.tz).date()
    if kind in (Kind.DAY_BEFORE, Kind.FIRST_SESSION):
        return dt.datetime.combine(
            local_day - dt.timedelta(days=1), policy.day_before_at, tzinfo=clinic.tz
        )
    return starts_at - dt.timedelta(minutes=policy.same_day_minutes_before)


def _session_key(kind: str, channel: str, session_id: int, starts_at: dt.datetime) -> str:
    return f"s{session_id}:{int(starts_at.timestamp())}:{kind}:{channel}"


def _key(kind: str, channel: str, session: Session | None, extra: str = "") -> str:
    if session is None:
        return f"{kind}:{channel}:{extra}"
    return _session_key(kind, channel, session.pk, session.starts_at) + extra


def _suppression(kind: str, scheduled_for: dt.datetime, starts_at: dt.datetime | None) -> str:
    """Why a message of a session must not go (empty: it may): a reminder whose send
    window opens only after the session started is pointless."""
    if starts_at is not None and kind != Kind.MISSED_FOLLOWUP and scheduled_for >= starts_at:
        return "the send window opens only after the session starts"
    return ""


def _row(
    kind: str,
    channel: str,
    patient: Patient,
    clinic: Clinic,
    policy: ReminderPolicy,
    *,
    session: Session | None,
    due: dt.datetime,
    key: str,
) -> Notification:
    scheduled_for = within_window(due, clinic, policy)
    row = Notification(
        clinic=clinic,
        patient=patient,
        session=session,
        channel=channel,
        kind=kind,
        idempotency_key=key,
        scheduled_for=scheduled_for,
    )
    reason = _suppression(kind, scheduled_for, session.starts_at if session else None)
    if reason:
        row.status, row.reason = Status.SUPPRESSED, reason
    return row


# --- notifications caused by changes (same transaction as the change) ------------------


def notify_course_booked(sessions: list[Session], *, patient: Patient, clinic: Clinic) -> int:
    """The 'your visits are booked' message, with the first session's time."""
    if not sessions:
        return 0
    first = min(sessions, key=lambda s: s.starts_at)
    policy = policy_for(clinic)
    if not policy.course_booked:
        return 0
    now = timezone.now()
    rows = [
        _row(
            Kind.COURSE_BOOKED,
            channel,
            patient,
            clinic,
            policy,
            session=first,
            due=now,
            key=_key(Kind.COURSE_BOOKED, channel, first),
        )
        for channel in reachable_channels(patient)
    ]
    return len(Notification.objects.bulk_create(rows, ignore_conflicts=True))


def cancel_pending(rows: Any, reason: str) -> int:
    """Cancel pending rows and free their idempotency keys, so that the same message
    can be planned again if the situation comes back (a session moved back to its old
    time, consent granted again)."""
    return int(
        rows.filter(status=Status.PENDING).update(
            status=Status.CANCELLED,
            reason=reason,
            idempotency_key=Concat(F("idempotency_key"), Value("~x"), Cast("id", CharField())),
            updated_at=timezone.now(),
        )
    )


def session_changed(session: Session, *, moved: bool) -> None:
    """A session moved or was cancelled: its pending reminders go (the planner writes
    new ones for the new time); a move is announced."""
    current = f":{int(session.starts_at.timestamp())}:"
    cancel_pending(
        Notification.objects.filter(session=session)
        .exclude(kind=Kind.COURSE_BOOKED)  # rendered when sent, with the current times
        .exclude(kind=Kind.SESSION_MOVED, idempotency_key__contains=current),
        "session changed",
    )
    if not moved:
        return
    clinic = session.chair.clinic
    policy = policy_for(clinic)
    if not policy.session_moved:
        return
    rows = [
        _row(
            Kind.SESSION_MOVED,
            channel,
            session.patient,
            clinic,
            policy,
            session=session,
            due=timezone.now(),
            key=_key(Kind.SESSION_MOVED, channel, session),
        )
        for channel in reachable_channels(session.patient)
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)


def sessions_released(session_ids: list[int], reason: str) -> int:
    """Sessions cancelled together (their course ended): nothing still pending about
    them goes out."""
    return cancel_pending(Notification.objects.filter(session_id__in=session_ids), reason)


def sessions_withdrawn(session_ids: list[int]) -> None:
    """Sessions about to be deleted (a course not yet started, planned again): their
    pending messages are cancelled, and every message about them stays in the outbox,
    detached from the session, as the record of what the patient was told."""
    rows = Notification.objects.filter(session_id__in=session_ids)
    cancel_pending(rows, "course planned again")
    rows.update(session=None, updated_at=timezone.now())


def notify_missed(session_ids: Iterable[int]) -> int:
    """Missed-session follow-ups, one per session and channel (idempotent). The sweep
    can miss a thousand sessions at once: rows, not model instances."""
    sessions = list(Session.objects.filter(pk__in=list(session_ids)).values_list(*_SESSION_CONTACT))
    places = _clinics_with_policies({row[-1] for row in sessions})
    now = timezone.now()
    rows: list[PlannedRow] = []
    for session_id, starts_at, _, patient_id, *contact, clinic_id in sessions:
        clinic, policy = places[clinic_id]
        if not policy.missed_followup:
            continue
        scheduled_for = within_window(now, clinic, policy)
        for channel in _reachable(*contact):
            key = _session_key(Kind.MISSED_FOLLOWUP, channel, session_id, starts_at)
            rows.append(
                PlannedRow(
                    clinic_id,
                    patient_id,
                    session_id,
                    channel,
                    Kind.MISSED_FOLLOWUP,
                    Status.PENDING,
                    "",
                    key,
                    scheduled_for,
                )
            )
    _insert_ignoring_existing(rows)
    return len(rows)


# A session with what reminders need of its patient and clinic, as value rows.
_SESSION_CONTACT = (
    "id",
    "starts_at",
    "kind",
    "patient_id",
    "patient__phone",
    "patient__email",
    "patient__sms_consent",
    "patient__email_consent",
    "chair__clinic_id",
)


def _clinics_with_policies(clinic_ids: Iterable[int]) -> dict[int, tuple[Clinic, ReminderPolicy]]:
    clinics = Clinic.objects.filter(id__in=set(clinic_ids)).select_related("reminder_policy")
    return {clinic.pk: (clinic, policy_for(clinic)) for clinic in clinics}


# --- planned reminders -----------------------------------------------------------------


def plan_reminders(now: dt.datetime | None = None) -> int:
    """Write the day-before (first-session for session 1) and same-day reminders of
    every session in the coming horizon. Idempotent: existing keys are skipped, so two
    planners running at once write each row once.

    Set-based: a day of a large deployment is tens of thousands of rows, so sessions are
    read as plain rows and reminders written as columns, never as model instances."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(hours=settings.REMINDER_HORIZON_HOURS)
    coming = Q(status=SessionStatus.SCHEDULED, starts_at__gt=now, starts_at__lte=horizon)
    sessions = list(Session.objects.filter(coming).values_list(*_SESSION_CONTACT))
    # Keys already written (a planner runs every few minutes): skip them up front.
    existing = set(
        Notification.objects.filter(session__in=Session.objects.filter(coming)).values_list(
            "idempotency_key", flat=True
        )
    )
    places = _clinics_with_policies({row[-1] for row in sessions})
    too_late = now - dt.timedelta(hours=1)
    rows: list[PlannedRow] = []
    for (
        session_id,
        starts_at,
        session_kind,
        patient_id,
        phone,
        email,
        sms_consent,
        email_consent,
        clinic_id,
    ) in sessions:
        clinic, policy = places[clinic_id]
        # The mapping session opens a course: its eve gets the first-session message.
        first = session_kind == SessionKind.MAPPING
        for kind in (Kind.FIRST_SESSION if first else Kind.DAY_BEFORE, Kind.SAME_DAY):
            if not policy.kind_enabled(kind):
                continue
            due = reminder_time(kind, starts_at, clinic, policy)
            if due < too_late:
                continue  # planned too late to be useful
            scheduled_for = within_window(max(due, now), clinic, policy)
            reason = _suppression(kind, scheduled_for, starts_at)
            status = Status.SUPPRESSED if reason else Status.PENDING
            for channel in _reachable(phone, email, sms_consent, email_consent):
                key = _session_key(kind, channel, session_id, starts_at)
                if key not in existing:
                    rows.append(
                        PlannedRow(
                            clinic_id,
                            patient_id,
                            session_id,
                            channel,
                            kind,
                            status,
                            reason,
                            key,
                            scheduled_for,
                        )
                    )
    _insert_ignoring_existing(rows)
    return len(rows)


class PlannedRow(NamedTuple):
    """A planned reminder, in the outbox's column order."""

    clinic_id: int
    patient_id: int
    session_id: int
    channel: str
    kind: str
    status: str
    reason: str
    idempotency_key: str
    scheduled_for: dt.datetime


_PLANNED_TYPES = (
    *("bigint",) * 3,
    *("text",) * 5,
    "timestamptz",
)


def _insert_ignoring_existing(rows: list[PlannedRow]) -> None:
    """Write new outbox rows; keys another planner wrote meanwhile are skipped.

    On PostgreSQL the rows are COPied into a temporary table and moved over with one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING: COPY streams tens of thousands of rows
    about five times faster than array parameters, which psycopg quotes element by
    element in Python. Elsewhere, bulk_create.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        Notification.objects.bulk_create(
            [Notification(**row._asdict()) for row in rows], ignore_conflicts=True, batch_size=2000
        )
        return
    now = timezone.now()
    names = ", ".join(PlannedRow._fields)
    staging = ", ".join(
        f"{name} {kind}" for name, kind in zip(PlannedRow._fields, _PLANNED_TYPES, strict=True)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE planned_reminder ({staging})")
        with cursor.cursor.copy(f"COPY planned_reminder ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {Notification._meta.db_table} "  # noqa: S608 - fixed names only
            f"({names}, attempts, provider_message_id, last_error, body, created_at, updated_at) "
            f"SELECT {names}, 0, '', '', '', %s, %s FROM planned_reminder "
            "ON CONFLICT (idempotency_key) DO NOTHING",
            [now, now],
        )
        # Dropped here, not at commit: a caller's transaction may plan more than once.
        cursor.execute("DROP TABLE planned_reminder")


def due_ids(now: dt.datetime | None = None, limit: int = 1000) -> list[int]:
    now = now or timezone.now()
    return list(
        Notification.objects.filter(status=Status.PENDING, scheduled_for__lte=now)
        .order_by("scheduled_for", "id")
        .values_list("id", flat=True)[:limit]
    )


def release_expired_leases(now: dt.datetime | None = None) -> int:
    """Rows whose worker died mid-send go back to the queue."""
    now = now or timezone.now()
    return Notification.objects.filter(status=Status.SENDING, lease_expires_at__lt=now).update(
        status=Status.PENDING, lease_expires_at=None, claim_token=None, updated_at=now
    )


# --- sending ---------------------------------------------------------------------------


def claim(notification_id: int, now: dt.datetime | None = None) -> uuid.UUID | None:
    """Take the row for this worker: pending and due -> sending, with a lease. Returns
    the claim's token (None when another worker has it, or it is not due)."""
    now = now or timezone.now()
    lease = now + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    token = uuid.uuid4()
    claimed = Notification.objects.filter(
        pk=notification_id, status=Status.PENDING, scheduled_for__lte=now
    ).update(status=Status.SENDING, lease_expires_at=lease, claim_token=token, updated_at=now)
    return token if claimed else None


def _finish(notification: Notification, token: uuid.UUID, **changes: Any) -> bool:
    """Store a result only while this claim still holds the row: a worker whose lease
    ran out (and the row was claimed again) changes nothing."""
    return bool(
        Notification.objects.filter(
            pk=notification.pk, status=Status.SENDING, claim_token=token
        ).update(lease_expires_at=None, claim_token=None, updated_at=timezone.now(), **changes)
    )


def _over_cap(notification: Notification, policy: ReminderPolicy, now: dt.datetime) -> bool:
    if notification.kind in CHANGE_KINDS:
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
    mine = Notification.objects.filter(patient=notification.patient, channel=notification.channel)
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
        and notification.kind != Kind.MISSED_FOLLOWUP
        and (session.status != SessionStatus.SCHEDULED or session.starts_at <= now)
    ):
        _finish(notification, token, status=Status.CANCELLED, reason="session no longer upcoming")
        return Status.CANCELLED
    # Due, but at night: a backlog after an outage, or a retry that ran past the window.
    opens = within_window(now, clinic, policy)
    if opens > now:
        reason = _suppression(notification.kind, opens, session.starts_at if session else None)
        if reason:
            _finish(notification, token, status=Status.SUPPRESSED, reason=reason)
            return Status.SUPPRESSED
        _finish(notification, token, status=Status.PENDING, scheduled_for=opens)
        return Status.PENDING
    if notification.kind in CHANGE_KINDS:  # changes always go, whatever the caps
        return _deliver(notification, token, now)
    # Routine reminders to one patient queue on the patient's row from the cap check to
    # the stored result, so two sent at the same moment cannot both pass the cap.
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if _over_cap(notification, policy, now):
            _finish(notification, token, status=Status.SUPPRESSED, reason="frequency cap reached")
            return Status.SUPPRESSED
        return _deliver(notification, token, now)


def _deliver(notification: Notification, token: uuid.UUID, now: dt.datetime) -> str:
    patient, clinic, session = notification.patient, notification.clinic, notification.session
    message = content.render(
        notification.kind,
        notification.channel,
        patient=patient,
        clinic=clinic,
        at=session.starts_at if session is not None else None,
        link=links.session_link(session)
        if session is not None and notification.kind in LINKED_KINDS
        else "",
        calendar_link=links.calendar_link(session.course)
        if session is not None and notification.kind == Kind.COURSE_BOOKED
        else "",
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
        delay = BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)
        retry_at = now + dt.timedelta(seconds=delay * random.uniform(0.8, 1.2))  # noqa: S311
        _finish(
            notification,
            token,
            status=Status.PENDING,
            attempts=attempts,
            scheduled_for=retry_at,
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


# --- provider status callbacks ---------------------------------------------------------

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


# --- inbound SMS keywords --------------------------------------------------------------

# Unambiguous opt-out words count anywhere in a message ("yes please stop"); words with
# everyday meanings ("can I cancel Tuesday?") and START/HELP only as its first word.
STOP_ANYWHERE = {"STOP", "STOPALL", "UNSUBSCRIBE", "REVOKE", "OPTOUT"}
STOP_FIRST = {"END", "QUIT", "CANCEL"}
START_WORDS = {"START", "UNSTOP", "YES", "SUBSCRIBE"}
HELP_WORDS = {"HELP", "INFO"}


def keyword_of(body: str) -> str | None:
    """STOP, START or HELP, whatever the case and the punctuation; an opt-out always
    wins over anything else in the same message."""
    words = "".join(ch if ch.isalnum() else " " for ch in body.upper()).split()
    if not words:
        return None
    if STOP_ANYWHERE & set(words) or words[0] in STOP_FIRST:
        return "STOP"
    if words[0] in START_WORDS:
        return "START"
    if words[0] in HELP_WORDS:
        return "HELP"
    return None


@transaction.atomic
def handle_inbound_sms(from_number: str, body: str) -> str | None:
    """Apply a patient's keyword to every patient with that number; returns the reply
    to send back (None: no reply, e.g. an unknown number or no keyword)."""
    patients = list(Patient.objects.filter(phone=from_number).select_related("clinic"))
    keyword = keyword_of(body)
    if not patients or keyword is None:
        return None
    clinic = patients[0].clinic
    phone = content.display_phone(clinic.phone)
    if keyword == "STOP":
        for patient in patients:
            if patient.sms_consent:
                consent_record(
                    patient, Channel.SMS, granted=False, source=ConsentEvent.Source.INBOUND_SMS
                )
        return (
            f"{clinic.display_name}: you will get no more texts from us. "
            f"Reply START to resume. {phone}"
        )
    if keyword == "START":
        for patient in patients:
            if not patient.sms_consent:
                consent_record(
                    patient, Channel.SMS, granted=True, source=ConsentEvent.Source.INBOUND_SMS
                )
        return f"{clinic.display_name}: texts are back on. Reply STOP to opt out."
    return f"{clinic.display_name}: call us at {phone}. Reply STOP to opt out."
