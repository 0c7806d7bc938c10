"""Writing the outbox: the messages a change causes (written in the change's
transaction, each with a unique idempotency key), the periodic planning of reminders,
and cancelling what no longer holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from clinic.models import Clinic, Patient
from notifications.models import (
    Channel,
    Kind,
    Notification,
    ReminderPolicy,
    Status,
)
from notifications.services.policy import (
    chosen,
    message_channels,
    policy_for,
    reminder_time,
    within_window,
)
from notifications.services.reminder_days import sessions_worth_a_reminder
from scheduling.models import OCCUPYING, Session, SessionKind, SessionStatus

LINKED_KINDS = (Kind.FIRST_SESSION, Kind.DAY_BEFORE, Kind.SESSION_MOVED, Kind.MAKEUP_BOOKED)


def _session_key(kind: str, channel: str, session_id: int, starts_at: dt.datetime) -> str:
    return f"s{session_id}:{int(starts_at.timestamp())}:{kind}:{channel}"


def _key(kind: str, channel: str, session: Session | None, extra: str = "") -> str:
    if session is None:
        return f"{kind}:{channel}:{extra}"
    return _session_key(kind, channel, session.pk, session.starts_at) + extra


def suppression(kind: str, scheduled_for: dt.datetime, starts_at: dt.datetime | None) -> str:
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
    reason = suppression(kind, scheduled_for, session.starts_at if session else None)
    if reason:
        row.status, row.reason = Status.SUPPRESSED, reason
    return row


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
        for channel in message_channels(patient)
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


def reroute_pending(patient: Patient, reason: str) -> int:
    """Messages still due to the patient on a channel no longer chosen for them (a
    consent withdrawn, a contact removed, another preferred channel) are cancelled and
    written again, with the same content and time, on the channels now chosen
    (policy.message_channels), unless already there. Returns how many were written."""
    channels = message_channels(patient)
    stale = Notification.objects.filter(patient=patient, status=Status.PENDING).exclude(
        channel__in=channels
    )
    rows = list(stale)
    cancel_pending(stale, reason)
    copies = [
        Notification(
            clinic_id=row.clinic_id,
            patient=patient,
            session_id=row.session_id,
            watch_point_id=row.watch_point_id,
            channel=channel,
            kind=row.kind,
            idempotency_key=row.idempotency_key.replace(
                f"{row.kind}:{row.channel}", f"{row.kind}:{channel}", 1
            ),
            scheduled_for=row.scheduled_for,
            previous_starts_at=row.previous_starts_at,
        )
        for row in rows
        for channel in channels
    ]
    return len(Notification.objects.bulk_create(copies, ignore_conflicts=True))


def session_changed(
    session: Session,
    *,
    moved: bool,
    previous_start: dt.datetime | None = None,
    by_patient: bool = False,
) -> None:
    """A session moved or was cancelled: its pending reminders go (the planner writes
    new ones for the new time). A move is announced with the time it moved from; a
    cancellation by the clinic is announced too (the patient who cancelled knows)."""
    current = f":{int(session.starts_at.timestamp())}:"
    cancel_pending(
        Notification.objects.filter(session=session)
        .exclude(kind=Kind.COURSE_BOOKED)  # rendered when sent, with the current times
        .exclude(kind=Kind.SESSION_MOVED, idempotency_key__contains=current),
        "session changed",
    )
    clinic = session.chair.clinic
    policy = policy_for(clinic)
    if moved:
        kind = Kind.SESSION_MOVED
    elif by_patient or session.checked_in_at is not None or session.starts_at <= timezone.now():
        return  # the patient cancelled it, is here already, or the visit has begun
    else:
        kind = Kind.SESSION_CANCELLED
    if not policy.kind_enabled(kind):
        return
    rows = [
        _row(
            kind,
            channel,
            session.patient,
            clinic,
            policy,
            session=session,
            due=timezone.now(),
            key=_key(kind, channel, session),
        )
        for channel in message_channels(session.patient)
    ]
    for row in rows:
        row.previous_starts_at = previous_start
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


TOLD = (Status.SENDING, Status.SENT, Status.DELIVERED)


def session_reinstated(session: Session, withdrawn_makeup: Session | None) -> None:
    """A missed mark or a cancellation undone: the missed-visit text and the
    cancellation notice go only if they have not been sent. The make-up the mark had
    booked is withdrawn: a patient told of it is told it is cancelled; one never told
    hears nothing of it."""
    cancel_pending(
        Notification.objects.filter(
            session=session, kind__in=[Kind.MISSED_FOLLOWUP, Kind.SESSION_CANCELLED]
        ),
        "attendance corrected",
    )
    if withdrawn_makeup is None:
        return
    told = Notification.objects.filter(
        session=withdrawn_makeup, kind=Kind.MAKEUP_BOOKED, status__in=TOLD
    ).exists()
    if told:
        session_changed(withdrawn_makeup, moved=False)
    else:
        cancel_pending(Notification.objects.filter(session=withdrawn_makeup), "make-up withdrawn")


def notify_missed(session_ids: Iterable[int]) -> int:
    """Missed-session follow-ups, one per session and channel (idempotent). The sweep
    can miss a thousand sessions at once: rows, not model instances."""
    return _notify_now(Kind.MISSED_FOLLOWUP, session_ids)


def notify_makeups(session_ids: Iterable[int]) -> int:
    """Tell patients the date and time of make-up sessions just booked for them."""
    return _notify_now(Kind.MAKEUP_BOOKED, session_ids)


def _notify_now(kind: str, session_ids: Iterable[int]) -> int:
    """A message of ``kind`` about each session, due now (within the send window)."""
    sessions = list(Session.objects.filter(pk__in=list(session_ids)).values_list(*_SESSION_CONTACT))
    places = _clinics_with_policies({row[-1] for row in sessions})
    now = timezone.now()
    rows: list[PlannedRow] = []
    for session_id, starts_at, _, patient_id, *contact, clinic_id in sessions:
        clinic, policy = places[clinic_id]
        if not policy.kind_enabled(kind):
            continue
        scheduled_for = within_window(now, clinic, policy)
        rows += _session_rows(
            kind, (session_id, starts_at, patient_id, clinic_id), contact, scheduled_for
        )
    _insert_ignoring_existing(rows)
    return len(rows)


def _session_rows(
    kind: str,
    session: tuple[int, dt.datetime, int, int],
    contact: Sequence[Any],
    scheduled_for: dt.datetime,
    *,
    reason: str = "",
    skip: Container[str] = frozenset(),
) -> list[PlannedRow]:
    """The rows of one message about a session (id, start, patient, clinic), one per
    channel it goes on (``contact``: phone, email, the two consents and the preferred
    channel; policy.chosen);
    suppressed when ``reason`` says why; keys in ``skip`` are written already."""
    session_id, starts_at, patient_id, clinic_id = session
    status = Status.SUPPRESSED if reason else Status.PENDING
    rows = []
    for channel in chosen(*contact):
        key = _session_key(kind, channel, session_id, starts_at)
        if key not in skip:
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
    return rows


_SESSION_CONTACT = (
    "id",
    "starts_at",
    "kind",
    "patient_id",
    "patient__phone",
    "patient__email",
    "patient__sms_consent",
    "patient__email_consent",
    "patient__preferred_channel",
    "chair__clinic_id",
)


def _clinics_with_policies(clinic_ids: Iterable[int]) -> dict[int, tuple[Clinic, ReminderPolicy]]:
    clinics = Clinic.objects.filter(id__in=set(clinic_ids)).select_related("reminder_policy")
    return {clinic.pk: (clinic, policy_for(clinic)) for clinic in clinics}


def plan_reminders(now: dt.datetime | None = None) -> int:
    """Write the day-before (first-session for session 1) and same-day reminders of
    every session in the coming horizon. Idempotent: existing keys are skipped, so two
    planners running at once write each row once.

    Set-based: a day of a large deployment is tens of thousands of rows, so sessions are
    read as plain rows and reminders written as columns, never as model instances."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(hours=settings.REMINDER_HORIZON_HOURS)
    coming = Q(status=SessionStatus.SCHEDULED, starts_at__gt=now, starts_at__lte=horizon)
    sessions = list(
        Session.objects.filter(coming).order_by("starts_at", "id").values_list(*_SESSION_CONTACT)
    )
    # Keys already written (a planner runs every few minutes): skip them up front.
    existing = set(
        Notification.objects.filter(session__in=Session.objects.filter(coming)).values_list(
            "idempotency_key", flat=True
        )
    )
    places = _clinics_with_policies({row[-1] for row in sessions})
    reminded_days = _days_begun(coming, now, places)
    worth_it = sessions_worth_a_reminder(sessions, coming, places)
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
        preferred_channel,
        clinic_id,
    ) in sessions:
        clinic, policy = places[clinic_id]
        # One reminder a day per patient, about the day's first session: an accelerated
        # course has up to ten sessions a day, and ten texts would help nobody.
        patient_day = (patient_id, starts_at.astimezone(clinic.tz).date())
        if patient_day in reminded_days:
            continue
        reminded_days.add(patient_day)
        if session_id not in worth_it:
            continue  # a day in a run of daily visits (services/reminder_days.py)
        # The mapping session opens a course: its eve gets the first-session message.
        first = session_kind == SessionKind.MAPPING
        for kind in (Kind.FIRST_SESSION if first else Kind.DAY_BEFORE, Kind.SAME_DAY):
            if not policy.kind_enabled(kind):
                continue
            due = reminder_time(kind, starts_at, clinic, policy)
            if due < too_late:
                continue  # planned too late to be useful
            scheduled_for = within_window(max(due, now), clinic, policy)
            reason = suppression(kind, scheduled_for, starts_at)
            rows += _session_rows(
                kind,
                (session_id, starts_at, patient_id, clinic_id),
                (phone, email, sms_consent, email_consent, preferred_channel),
                scheduled_for,
                reason=reason,
                skip=existing,
            )
    _insert_ignoring_existing(rows)
    return len(rows)


def _days_begun(
    coming: Q, now: dt.datetime, places: dict[int, tuple[Clinic, ReminderPolicy]]
) -> set[tuple[int, dt.date]]:
    """(patient, clinic-local day) of the coming sessions' patients whose day has begun
    with a session already: their later sessions that day need no reminder."""
    begun = Session.objects.filter(
        status__in=OCCUPYING,
        starts_at__gt=now - dt.timedelta(days=1),
        starts_at__lte=now,
        patient_id__in=Session.objects.filter(coming).values("patient_id"),
    ).values_list("patient_id", "starts_at", "chair__clinic_id")
    return {
        (patient_id, starts_at.astimezone(places[clinic_id][0].tz).date())
        for patient_id, starts_at, clinic_id in begun
        if clinic_id in places
    }


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


def notify_waitlist_offers(entry_ids: Iterable[int]) -> int:
    """A text to each waiting patient whose earliest start moved earlier, asking them
    to call, when the clinic turned it on (``ReminderPolicy.waitlist_offer``, off by
    default): SMS only, to patients who consented to it, in the send window; counted
    against the caps at sending. One per offered day (the key names it)."""
    from scheduling.models import WaitlistEntry

    entries = WaitlistEntry.objects.filter(pk__in=list(entry_ids)).select_related(
        "course__patient", "clinic__reminder_policy"
    )
    now = timezone.now()
    rows = []
    for entry in entries:
        policy = policy_for(entry.clinic)
        patient = entry.course.patient
        if not policy.waitlist_offer or entry.offer_start is None:
            continue
        if Channel.SMS not in message_channels(patient):
            continue
        key = _key(Kind.WAITLIST_OFFER, Channel.SMS, None, f"e{entry.pk}:{entry.offer_start}")
        rows.append(
            _row(
                Kind.WAITLIST_OFFER,
                Channel.SMS,
                patient,
                entry.clinic,
                policy,
                session=None,
                due=now,
                key=key,
            )
        )
    return len(Notification.objects.bulk_create(rows, ignore_conflicts=True))
