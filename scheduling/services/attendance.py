"""Single sessions: book one more, move, and the attendance steps (check in, complete,
cancel, mark missed), plus the periodic sweep that marks overdue sessions missed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from clinic.errors import Conflict, DomainError
from clinic.models import Chair, Clinic, Coil
from courses import signals as course_signals
from courses.models import (
    CourseStatus,
    TreatmentCourse,
)
from courses.prescription import describe, deviations, needs_reason, prescription_for
from scheduling import billing, signals
from scheduling.accelerated import sessions_allowed_on
from scheduling.calendar import ClinicCalendar, keeps_gap, load_calendar
from scheduling.models import (
    OCCUPYING,
    Session,
    SessionEventAction,
    SessionKind,
    SessionStatus,
    TreatmentRecord,
)
from scheduling.risk import recompute_risk
from scheduling.services.adverse_events import require_no_review_hold, save_record
from scheduling.services.authorization import (
    books_beyond,
    check_move,
    check_single_session,
    refresh_pending_authorization,
)
from scheduling.services.booking import lock_course, require_bookable
from scheduling.services.makeups import arrange_makeups_and_refresh
from scheduling.services.reinstate import reinstate


def _slot_minutes(course: TreatmentCourse, kind: str) -> int:
    protocol = course.protocol
    # A re-determination finds the threshold again before treating: the mapping slot.
    threshold = kind in (SessionKind.MAPPING, SessionKind.REMAP)
    return protocol.mapping_minutes if threshold else protocol.slot_minutes


def _check_slot(
    calendar: ClinicCalendar,
    course: TreatmentCourse,
    chair: Chair | None,
    start: dt.datetime,
    end: dt.datetime,
    *,
    placing: str,
    moving: int | None = None,
) -> int:
    """Explain why a slot cannot be booked (409), or return the chair to use.
    ``placing``: the session's kind; ``moving``: the session being moved."""
    clinic = calendar.clinic
    day = start.astimezone(clinic.tz).date()
    if day in calendar.closures:
        raise Conflict(f"The clinic is closed on {day:%A %d %B}.", code="closed")
    if not calendar.within_hours(start, end):
        raise Conflict("That time is outside the clinic's opening hours.", code="outside_hours")
    if not calendar.patient_free(start, end):
        raise Conflict("The patient already has a session at that time.", code="patient_conflict")
    protocol = course.protocol
    same_day = calendar.patient_sessions_on(day)
    if len(same_day) >= sessions_allowed_on(course, day, clinic.tz, placing=placing, ignore=moving):
        raise Conflict(
            f"The protocol allows {protocol.sessions_per_day} session(s) a day.",
            code="patient_conflict",
        )
    gap = dt.timedelta(minutes=protocol.start_spacing)
    if not keeps_gap(start, end, same_day, gap):
        raise Conflict(
            f"Same-day sessions need {protocol.min_gap_minutes} minutes from the end of one "
            f"session's {protocol.treatment_minutes}-minute stimulation to the next start.",
            code="patient_conflict",
        )
    if chair is not None and not chair.fits(protocol.coil):
        raise Conflict(
            f"{chair.name} has no {Coil(protocol.coil).label} coil, which this protocol needs.",
            code="chair_incompatible",
        )
    in_service = [c.pk for c in calendar.chairs]
    if chair is not None and chair.pk not in in_service:
        raise Conflict("That chair is not in service.", code="slot_conflict")
    compatible = [c.pk for c in calendar.chairs if c.fits(protocol.coil)]
    candidates = [chair.pk] if chair is not None else compatible
    for chair_id in candidates:
        if calendar.chair_free(chair_id, start, end):
            return chair_id
    raise Conflict(
        "That chair is taken (or blocked) at that time." if chair else "No chair is free then.",
        code="slot_conflict",
    )


def _check_authorization(course: TreatmentCourse, starts_at: dt.datetime) -> None:
    """Refused (409 ``authorization_exceeded``) when the clinic leaves sessions beyond
    the authorization unbooked; else booked, and marked by the refresh after it."""
    if books_beyond(course.patient.clinic):
        return
    held = list(
        Session.objects.filter(course=course, status__in=OCCUPYING).values_list(
            "starts_at", flat=True
        )
    )
    check_single_session(course.patient.clinic, held, starts_at, list(course.authorizations.all()))


def _next_phase_for(course: TreatmentCourse, start: dt.datetime) -> int:
    previous = (
        Session.objects.filter(course=course, starts_at__lte=start)
        .order_by("-starts_at")
        .values_list("phase", flat=True)
        .first()
    )
    return previous or 1


@transaction.atomic
def session_book(
    course: TreatmentCourse,
    *,
    starts_at: dt.datetime,
    chair: Chair | None = None,
    kind: str = SessionKind.TREATMENT,
) -> Session:
    course = lock_course(course)
    require_bookable(course)
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "Sessions cannot be booked in the past."})
    if (
        kind == SessionKind.MAPPING
        and Session.objects.filter(
            course=course, kind=SessionKind.MAPPING, status__in=OCCUPYING
        ).exists()
    ):
        raise ValidationError({"kind": "The course already has a mapping session."})
    billing.check_threshold_day(course, kind, starts_at, course.patient.clinic.tz)
    _check_authorization(course, starts_at)
    end = starts_at + dt.timedelta(minutes=_slot_minutes(course, kind))
    day = starts_at.astimezone(course.patient.clinic.tz).date()
    calendar = load_calendar(
        course.patient.clinic, day, day, coil=None, patient_id=course.patient_id
    )
    chair_id = _check_slot(calendar, course, chair, starts_at, end, placing=kind)
    session = Session.objects.create(
        course=course,
        patient=course.patient,  # loaded with the course: the audit trail names it as is
        chair_id=chair_id,
        starts_at=starts_at,
        ends_at=end,
        kind=kind,
        phase=_next_phase_for(course, starts_at),
    )
    refresh_pending_authorization([course.pk])
    # What that may have changed; the course, patient and clinic stay as loaded (the
    # receivers and the response read them without a query).
    session.refresh_from_db(fields=["pending_authorization", "updated_at"])
    signals.announce_session_booked(session)
    recompute_risk([course.pk])
    return session


def _lock_session(session: Session) -> Session:
    """Lock the session's course first (as booking does), then the session: every write
    to a course's sessions queues on the course, so the per-day rules hold under races."""
    TreatmentCourse.objects.select_for_update(of=("self",)).filter(
        pk=Session.objects.filter(pk=session.pk).values("course_id")[:1]
    ).first()
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("course__protocol", "course__patient__clinic", "chair")
        .get(pk=session.pk)
    )


def _invalid_transition(session: Session, action: str) -> Conflict:
    return Conflict(
        f"A {session.status.replace('_', '-')} session cannot be {action}.",
        code="invalid_transition",
    )


@transaction.atomic
def session_move(
    session: Session, *, starts_at: dt.datetime | None = None, chair: Chair | None = None
) -> Session:
    session = _lock_session(session)
    if session.status != SessionStatus.SCHEDULED:
        raise _invalid_transition(session, "moved")
    course = session.course
    start = starts_at or session.starts_at
    if starts_at is not None and starts_at < timezone.now():
        raise ValidationError({"starts_at": "Sessions cannot be moved into the past."})
    end = start + (session.ends_at - session.starts_at)
    billing.check_threshold_day(
        course, session.kind, start, course.patient.clinic.tz, ignore=session.pk
    )
    if not books_beyond(course.patient.clinic):
        others = Session.objects.filter(course=course, status__in=OCCUPYING).exclude(pk=session.pk)
        check_move(
            course.patient.clinic,
            list(others.values_list("starts_at", flat=True)),
            session.starts_at,
            start,
            list(course.authorizations.all()),
        )
    day = start.astimezone(course.patient.clinic.tz).date()
    calendar = load_calendar(
        course.patient.clinic,
        day,
        day,
        coil=None,
        patient_id=course.patient_id,
        ignore_sessions=[session.pk],
    )
    chair_id = _check_slot(
        calendar,
        course,
        chair or session.chair,
        start,
        end,
        placing=session.kind,
        moving=session.pk,
    )
    Session.objects.filter(pk=session.pk).update(
        starts_at=start, ends_at=end, chair_id=chair_id, updated_at=timezone.now()
    )
    refresh_pending_authorization([course.pk])  # a new order may change what is covered
    recompute_risk([course.pk])
    previous_start = session.starts_at
    # What the update and the authorization rule changed; the course, patient and
    # clinic stay as loaded.
    session.refresh_from_db(
        fields=["starts_at", "ends_at", "chair", "pending_authorization", "updated_at"]
    )
    if session.starts_at != previous_start:  # a new chair alone changes nothing for them
        signals.announce_session_changed(session, moved=True, previous_start=previous_start)
    return session


def _transition(session: Session, allowed: Sequence[str], action: str, **changes: Any) -> Session:
    """Conditional update: only a row still in an allowed state changes."""
    updated = Session.objects.filter(pk=session.pk, status__in=allowed).update(
        updated_at=timezone.now(), **changes
    )
    if not updated:
        session.refresh_from_db()
        raise _invalid_transition(session, action)
    session.refresh_from_db()
    return session


def check_in_opens_at(starts_at: dt.datetime, clinic: Clinic) -> dt.datetime:
    """The earliest moment a session may be checked in (the clinic's setting)."""
    return starts_at - dt.timedelta(minutes=clinic.check_in_early_minutes)


@transaction.atomic
def session_check_in(session: Session, *, by: Any = None) -> Session:
    """Check a patient in, at most the clinic's ``check_in_early_minutes`` before the
    session (409 ``too_early``: a check-in on the wrong day or hours ahead is a slip).
    A late patient whose session was marked missed is checked in on its own day."""
    session = _lock_session(session)
    if session.status in (SessionStatus.SCHEDULED, SessionStatus.MISSED):
        # The hold first: "needs psychiatrist review" matters more than "too early".
        require_no_review_hold(session.course_id)
    clinic = session.course.patient.clinic
    if session.status == SessionStatus.MISSED:
        return _check_in_late(session, clinic, by=by)
    opens = check_in_opens_at(session.starts_at, clinic)
    if session.status == SessionStatus.SCHEDULED and timezone.now() < opens:
        raise Conflict(
            f"Check-in opens at {opens.astimezone(clinic.tz):%H:%M on %a %d %b}, "
            f"{clinic.check_in_early_minutes} minutes before the session.",
            code="too_early",
        )
    if session.status == SessionStatus.SCHEDULED:
        _activate_if_planned(session.course)
    session = _transition(
        session,
        [SessionStatus.SCHEDULED],
        "checked in",
        status=SessionStatus.CHECKED_IN,
        checked_in_at=timezone.now(),
    )
    recompute_risk([session.course_id])
    return session


def _check_in_late(session: Session, clinic: Clinic, *, by: Any) -> Session:
    """Missed → checked in, on the session's own day (409 ``too_late`` after it): the
    make-up the missed mark booked is withdrawn and the missed-visit text stopped."""
    if session.starts_at.astimezone(clinic.tz).date() != clinic.today():
        raise Conflict(
            "A missed session can be checked in on its own day only; book a new one.",
            code="too_late",
        )
    _activate_if_planned(session.course)
    return reinstate(
        session,
        to_status=SessionStatus.CHECKED_IN,
        action=SessionEventAction.LATE_CHECK_IN,
        reason="",
        by=by,
        missed_at=None,
        checked_in_at=timezone.now(),
    )


def _activate_if_planned(course: TreatmentCourse) -> None:
    """The first check-in starts a planned course (its screening was checked at booking)."""
    if TreatmentCourse.objects.filter(pk=course.pk, status=CourseStatus.PLANNED).update(
        status=CourseStatus.ACTIVE, status_changed_at=timezone.now()
    ):
        course.status = CourseStatus.ACTIVE
        course_signals.announce_course_status_changed(
            course, CourseStatus.PLANNED, CourseStatus.ACTIVE
        )


@transaction.atomic
def session_complete(session: Session, *, technician: Any, **record: Any) -> Session:
    """Record what a checked-in session delivered (refused with 400 outside the record's
    limits: TreatmentRecord's validators) and complete it. Refused (409 ``needs_review``)
    while the course is on hold after an adverse event; a record that reports one puts
    it on hold."""
    entry = TreatmentRecord(technician=technician, **record)
    entry.full_clean(exclude=["session"], validate_unique=False, validate_constraints=False)
    session = _lock_session(session)
    _require_started(session)
    if session.status == SessionStatus.CHECKED_IN:
        require_no_review_hold(session.course_id)
    entry.deviations = _deviations_explained(session, entry)
    session = _transition(
        session,
        [SessionStatus.CHECKED_IN],
        "completed",
        status=SessionStatus.COMPLETED,
        completed_at=timezone.now(),
        **billing.delivered(session, session.course.patient.clinic.tz),
    )
    save_record(session, entry, by=technician)
    signals.announce_session_completed(session)
    recompute_risk([session.course_id])
    return session


def _require_started(session: Session) -> None:
    """A session is completed once it has started (409 ``not_started``), whatever time
    it was checked in: a record of a session not yet given is a slip."""
    if session.status == SessionStatus.CHECKED_IN and session.starts_at > timezone.now():
        local = session.starts_at.astimezone(session.course.patient.clinic.tz)
        raise Conflict(
            f"The session starts at {local:%H:%M}; it can be completed once it has started.",
            code="not_started",
        )


def _deviations_explained(session: Session, entry: TreatmentRecord) -> list[str]:
    """How the record departs from the course's prescription; a departure outside the
    tolerance needs a reason (400 ``deviation_reason_required``)."""
    found = deviations(
        prescription_for(session.course),
        pulses_delivered=entry.pulses_delivered,
        intensity_pct_mt=entry.intensity_pct_mt,
        coil_position=entry.coil_position,
    )
    entry.deviation_reason = entry.deviation_reason.strip()
    if needs_reason(found) and not entry.deviation_reason:
        raise DomainError(
            f"Give a reason for the deviation from the prescription: {describe(found)}.",
            code="deviation_reason_required",
        )
    return found


@transaction.atomic
def session_cancel(session: Session, *, reason: str = "", by_patient: bool = False) -> Session:
    """Cancel a session; the patient is told unless they cancelled it themselves."""
    session = _lock_session(session)
    session = _transition(
        session,
        [SessionStatus.SCHEDULED, SessionStatus.CHECKED_IN],
        "cancelled",
        status=SessionStatus.CANCELLED,
        cancelled_at=timezone.now(),
        cancel_reason=reason,
    )
    signals.announce_session_changed(session, moved=False, by_patient=by_patient)
    _after_lost_sessions([session])
    return session


def session_confirm_by_patient(session: Session) -> None:
    """The patient confirmed from their link; the first confirmation is kept."""
    Session.objects.filter(pk=session.pk, patient_confirmed_at__isnull=True).update(
        patient_confirmed_at=timezone.now()
    )


@transaction.atomic
def session_cancel_by_patient(session: Session) -> Session:
    """The patient cancelled from their link: only up to the clinic's notice period
    before the session (409 ``too_late``: they call instead)."""
    clinic = session.chair.clinic
    if timezone.now() >= session.starts_at - dt.timedelta(hours=clinic.patient_cancel_hours):
        raise Conflict("It is too late to cancel online; please call us.", code="too_late")
    return session_cancel(session, reason="cancelled by patient (link)", by_patient=True)


@transaction.atomic
def session_mark_missed(session: Session) -> Session:
    session = _lock_session(session)
    if session.status == SessionStatus.SCHEDULED and session.starts_at > timezone.now():
        raise Conflict(
            "A session can be marked missed only once it has started; cancel it instead.",
            code="invalid_transition",
        )
    session = _transition(
        session,
        [SessionStatus.SCHEDULED],
        "marked missed",
        status=SessionStatus.MISSED,
        missed_at=timezone.now(),
    )
    signals.announce_sessions_missed([session.pk])
    _after_lost_sessions([session])
    return session


def _after_lost_sessions(sessions: Sequence[Session]) -> None:
    arrange_makeups_and_refresh({session.course_id for session in sessions})


def sweep_missed_sessions(now: dt.datetime | None = None) -> list[int]:
    """Mark as missed every scheduled session with no check-in by its end plus the
    clinic's grace. One conditional UPDATE: a row another run already changed is not
    touched again, so overlapping runs are safe. Returns the affected course ids."""
    now = now or timezone.now()
    graces = list(Clinic.objects.values_list("missed_grace_minutes", flat=True).distinct())
    if not graces:
        return []
    overdue = Q()
    for grace in graces:
        overdue |= Q(
            chair__clinic__missed_grace_minutes=grace,
            ends_at__lt=now - dt.timedelta(minutes=grace),
        )
    candidates = (
        Session.objects.filter(overdue, status=SessionStatus.SCHEDULED)
        # A person undid this session's missed mark: the sweep does not overrule them.
        .exclude(events__action=SessionEventAction.UNDO_MISSED)
        .values("id")
    )
    with transaction.atomic():
        flipped = _update_returning_courses(candidates, now)
        course_ids = sorted({course_id for _, course_id in flipped})
        if course_ids:
            refresh_pending_authorization(course_ids)  # a missed session uses none
            recompute_risk(course_ids)
            signals.announce_sessions_missed(session_id for session_id, _ in flipped)
    return course_ids


def _update_returning_courses(candidates: Any, now: dt.datetime) -> list[tuple[int, int]]:
    """UPDATE ... WHERE status = 'scheduled' ... RETURNING id, course_id, so each run
    learns exactly which rows it changed (PostgreSQL and SQLite both support RETURNING)."""
    inner_sql, params = candidates.query.sql_with_params()
    table = Session._meta.db_table
    sql = (
        f"UPDATE {table} SET status = %s, missed_at = %s, updated_at = %s "  # noqa: S608
        f"WHERE status = %s AND id IN ({inner_sql}) RETURNING id, course_id"
    )
    # A plain cursor skips the ORM's adaptation: on SQLite the driver would store the
    # instant as '... 17:00:00+00:00', text that the ORM's lookups (missed_at=now) miss.
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [SessionStatus.MISSED, stamp, stamp, SessionStatus.SCHEDULED, *params])
        return [(row[0], row[1]) for row in cursor.fetchall()]
