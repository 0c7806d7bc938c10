"""Every write in the scheduling app: planning, booking, moving and attendance."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q, Value
from django.utils import timezone

from clinic import services as clinic_services
from clinic.db import EpochMicroseconds, instant
from clinic.errors import Conflict
from clinic.models import Chair, ChairBlock, Clinic, OpeningHours
from courses import services as course_services
from courses.models import (
    OPEN_STATUSES,
    Assessment,
    Authorization,
    CourseStatus,
    Protocol,
    ProtocolPhase,
    SafetyFlag,
    Screening,
    ScreeningStatus,
    TreatmentCourse,
)
from courses.risk import CourseFacts, SessionFact, recompute_risk, store_risk
from courses.selectors import window_end_date
from courses.services import course_create, latest_screening
from notifications import services as notifications
from scheduling.calendar import ClinicCalendar, day_bounds, load_calendar
from scheduling.models import OCCUPYING, Session, SessionKind, SessionStatus, TreatmentRecord
from scheduling.planner import (
    CourseShape,
    Failure,
    PhasePlan,
    Placement,
    Planner,
    cadence_weekdays,
)

ANY_DAY = (0, 1, 2, 3, 4, 5, 6)  # make-ups may go on any day the clinic is open
FAILURE_MESSAGES = {
    "slot_conflict": "no chair is free at that time",
    "outside_hours": "the time falls outside opening hours",
    "patient_conflict": "the patient already has a session then",
}


def course_shape(protocol: Protocol, phases: Sequence[ProtocolPhase] | None = None) -> CourseShape:
    """The planner's view of a protocol (``phases``: already loaded, else read)."""
    plans = [
        PhasePlan(phase.order, phase.kind, phase.sessions, phase.per_week)
        for phase in (protocol.phases.all() if phases is None else phases)
    ]
    return CourseShape(
        phases=plans,
        slot_minutes=protocol.slot_minutes,
        mapping_minutes=protocol.mapping_minutes,
        sessions_per_day=protocol.sessions_per_day,
        min_gap_minutes=protocol.min_gap_minutes,
    )


def _lock_course(course: TreatmentCourse) -> TreatmentCourse:
    return (
        TreatmentCourse.objects.select_for_update(of=("self",))
        .select_related("patient__clinic", "protocol")
        .get(pk=course.pk)
    )


_UNREAD = "unread"


def _require_bookable(course: TreatmentCourse, screening_status: str | None = _UNREAD) -> None:
    """A course can be booked while planned or active, once its patient's latest
    screening is cleared (``screening_status``: already read, else read here)."""
    if course.status not in (CourseStatus.PLANNED, CourseStatus.ACTIVE):
        raise Conflict(f"A {course.status} course cannot be booked.", code="course_closed")
    status = screening_status
    if status == _UNREAD:
        screening = latest_screening(course.patient)
        status = screening.status if screening is not None else None
    if status != ScreeningStatus.CLEARED:
        raise Conflict(
            "The patient's screening is not cleared by a psychiatrist.",
            code="screening_required",
        )


def _planning_limit(course: TreatmentCourse, window_end: dt.date | None = None) -> dt.date:
    """How far ahead sessions may go: the course window plus as long again, so
    closures can push sessions out (and show as window overrun) without looping."""
    window_end = window_end or window_end_date(course)
    return window_end + (window_end - course.start_date)


def _failure_conflict(failures: Sequence[Failure]) -> Conflict:
    reasons = [failure.reason for failure in failures]
    code = max(set(reasons), key=reasons.count)
    dates = ", ".join(f"{failure.date:%a %d %b}" for failure in failures[:10])
    more = f" and {len(failures) - 10} more" if len(failures) > 10 else ""
    return Conflict(
        f"Could not place {len(failures)} session(s): {dates}{more}.",
        code=code,
        conflicts=[
            {
                "date": failure.date.isoformat(),
                "reason": failure.reason,
                "detail": FAILURE_MESSAGES[failure.reason],
            }
            for failure in failures
        ],
    )


def _sessions_from(course: TreatmentCourse, placements: Iterable[Placement]) -> list[Session]:
    return [
        Session(
            course=course,
            patient_id=course.patient_id,
            chair_id=placement.chair_id,
            starts_at=placement.starts_at,
            ends_at=placement.ends_at,
            kind=placement.kind,
            phase=placement.phase,
        )
        for placement in placements
    ]


@transaction.atomic
def course_schedule(
    course: TreatmentCourse, *, time_flex_minutes: int = 0, allow_past: bool = False
) -> list[Session]:
    """Book every session of a course in one go: all of them, or none (409).

    A fixed number of queries whatever the course's length: the locked course, what
    planning needs (one), the calendar (four), one INSERT, and the risk facts not
    already at hand (two, plus an UPDATE if the level changed)."""
    course, planning = _lock_course_for_planning(course)
    _require_bookable(course, planning.screening_status)
    clinic = course.patient.clinic
    existing = planning.sessions
    if any(fact.status in OCCUPYING for fact in existing):
        raise Conflict(
            "This course already has sessions; move or book single sessions instead.",
            code="already_scheduled",
        )
    today = timezone.localdate(timezone=clinic.tz)
    if course.start_date < today and not allow_past:
        raise ValidationError(
            {"start_date": "The course starts in the past; pick a new start date."}
        )
    shape = course_shape(course.protocol, planning.phases)
    # Read the calendar up to the course window first; only when closures push the
    # course past it is the longer planning limit read (one more set of queries).
    window_end = window_end_date(course, planning.phases)
    for until in (window_end, _planning_limit(course, window_end)):
        calendar = load_calendar(
            clinic,
            course.start_date,
            until,
            patient_id=course.patient_id,
            time_of_day=_time_of_day(course.preferred_time, shape, time_flex_minutes),
            hours=planning.hours,
        )
        planner = Planner(
            calendar,
            preferred_time=course.preferred_time,
            preferred_chair_id=course.preferred_chair_id,
            time_flex_minutes=time_flex_minutes,
        )
        placements, failures = planner.plan(shape, course.start_date, until=until)
        ran_past = bool(failures) and failures[-1].date > until
        if not ran_past:
            break
    if failures:
        raise _failure_conflict(failures)
    sessions = Session.objects.bulk_create(_sessions_from(course, placements))
    notifications.notify_course_booked(sessions, patient=course.patient, clinic=clinic)
    store_risk(
        [
            CourseFacts(
                course,
                sessions=sorted(
                    [*existing, *(SessionFact(s.status, s.starts_at, s.phase) for s in sessions)],
                    key=lambda fact: fact.starts_at,
                ),
                assessments=list(Assessment.objects.filter(course=course)),
                authorizations=list(Authorization.objects.filter(course=course)),
                open_safety_flags=planning.open_safety_flags,
                closures=calendar.closures,
                open_weekdays=set(calendar.hours),
                phases=planning.phases,
            )
        ]
    )
    return sessions


def course_book(
    *, time_flex_minutes: int = 0, dry_run: bool = False, **course_fields: Any
) -> tuple[TreatmentCourse, list[Session]]:
    """Create a course and book all its sessions in one transaction (the web page's
    "book a course"). ``dry_run`` runs exactly the same rules and rolls everything back,
    so a preview can never disagree with what confirming it will book."""
    with transaction.atomic():
        course = course_create(**course_fields)
        sessions = course_schedule(course, time_flex_minutes=time_flex_minutes)
        if dry_run:
            transaction.set_rollback(True)
    return course, sessions


def _time_of_day(
    preferred: dt.time, shape: CourseShape, flex_minutes: int
) -> tuple[dt.time, dt.time] | None:
    """The stretch of each day a once-a-day course can touch; None (the whole day) for
    protocols with several sessions a day."""
    if shape.sessions_per_day > 1:
        return None
    anchor = dt.datetime.combine(dt.date(2000, 1, 3), preferred)
    start = anchor - dt.timedelta(minutes=flex_minutes)
    end = anchor + dt.timedelta(minutes=flex_minutes + shape.mapping_minutes)
    if start.date() != anchor.date() or end.date() != anchor.date():
        return None
    return start.time(), end.time()


@dataclass(frozen=True)
class PlanningRead:
    """What booking a whole course needs besides the course row, read in one query."""

    phases: list[ProtocolPhase]
    hours: dict[int, tuple[dt.time, dt.time]]
    screening_status: str | None
    open_safety_flags: int
    sessions: list[SessionFact]


def _lock_course_for_planning(course: TreatmentCourse) -> tuple[TreatmentCourse, PlanningRead]:
    """Lock the course row, then read its protocol's phases, the clinic's opening hours,
    the patient's latest screening status, the open safety flags and the course's
    sessions in one plain UNION ALL (PostgreSQL and SQLite): the ORM's prefetches and
    subquery annotations cost several times the database's work here."""
    course = (
        TreatmentCourse.objects.select_for_update(of=("self",))
        .select_related("patient__clinic__reminder_policy", "protocol")
        .get(pk=course.pk)
    )
    tables = {
        "phase": ProtocolPhase._meta.db_table,
        "hours": OpeningHours._meta.db_table,
        "flag": SafetyFlag._meta.db_table,
        "screening": Screening._meta.db_table,
    }
    sessions = (
        Session.objects.filter(course=course)
        .order_by()
        .values_list(Value("session"), "phase", EpochMicroseconds("starts_at"), Value(0), "status")
    )
    session_sql, session_params = sessions.query.sql_with_params()
    sql = (
        f"SELECT 'phase', \"order\", sessions, per_week, kind FROM {tables['phase']} "  # noqa: S608
        "WHERE protocol_id = %s "
        "UNION ALL "
        f"SELECT 'hours', weekday, 0, 0, CAST(opens AS TEXT) || ' ' || CAST(closes AS TEXT) "
        f"FROM {tables['hours']} WHERE clinic_id = %s "
        "UNION ALL "
        f"SELECT 'facts', (SELECT COUNT(*) FROM {tables['flag']} "
        "WHERE course_id = %s AND acknowledged_at IS NULL), 0, 0, "
        f"(SELECT status FROM {tables['screening']} WHERE patient_id = %s "
        "ORDER BY created_at DESC, id DESC LIMIT 1) "
        f"UNION ALL {session_sql}"
    )
    params = [course.protocol_id, course.patient.clinic_id, course.pk, course.patient_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *session_params])
        rows = cursor.fetchall()
    phases: list[ProtocolPhase] = []
    hours: dict[int, tuple[dt.time, dt.time]] = {}
    status: str | None = None
    flags = 0
    facts: list[SessionFact] = []
    for tag, number, amount, per_week, text in rows:
        if tag == "phase":
            phases.append(
                ProtocolPhase(
                    protocol=course.protocol,
                    order=number,
                    kind=text,
                    sessions=amount,
                    per_week=per_week,
                )
            )
        elif tag == "hours":
            opens, closes = text.split(" ")
            hours[number] = (dt.time.fromisoformat(opens), dt.time.fromisoformat(closes))
        elif tag == "facts":
            flags, status = number, text
        else:
            facts.append(SessionFact(text, instant(amount), number))
    phases.sort(key=lambda phase: phase.order)
    facts.sort(key=lambda fact: fact.starts_at)
    return course, PlanningRead(phases, hours, status, flags, facts)


# --- single sessions -------------------------------------------------------------------


def _slot_minutes(course: TreatmentCourse, kind: str) -> int:
    protocol = course.protocol
    return protocol.mapping_minutes if kind == SessionKind.MAPPING else protocol.slot_minutes


def _check_slot(
    calendar: ClinicCalendar,
    course: TreatmentCourse,
    chair: Chair | None,
    start: dt.datetime,
    end: dt.datetime,
) -> int:
    """Explain why a slot cannot be booked (409), or return the chair to use."""
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
    if len(same_day) >= protocol.sessions_per_day:
        raise Conflict(
            f"The protocol allows {protocol.sessions_per_day} session(s) a day.",
            code="patient_conflict",
        )
    gap = dt.timedelta(minutes=protocol.min_gap_minutes)
    if any(
        start < other_end + gap and other_start < end + gap for other_start, other_end in same_day
    ):
        raise Conflict(
            f"Same-day sessions must be at least {protocol.min_gap_minutes} minutes apart.",
            code="patient_conflict",
        )
    in_service = [c.pk for c in calendar.chairs]
    if chair is not None and chair.pk not in in_service:
        raise Conflict("That chair is not in service.", code="slot_conflict")
    candidates = [chair.pk] if chair is not None else in_service
    for chair_id in candidates:
        if calendar.chair_free(chair_id, start, end):
            return chair_id
    raise Conflict(
        "That chair is taken (or blocked) at that time." if chair else "No chair is free then.",
        code="slot_conflict",
    )


def _check_authorization(course: TreatmentCourse, extra: int = 1) -> None:
    authorizations = list(course.authorizations.all())
    if not authorizations:
        return
    authorized = sum(a.sessions_authorized for a in authorizations)
    held = Session.objects.filter(course=course, status__in=OCCUPYING).count()
    if held + extra > authorized:
        raise Conflict(
            f"The authorization covers {authorized} sessions and {held} are booked or done.",
            code="authorization_exceeded",
        )


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
    course = _lock_course(course)
    _require_bookable(course)
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "Sessions cannot be booked in the past."})
    if (
        kind == SessionKind.MAPPING
        and Session.objects.filter(
            course=course, kind=SessionKind.MAPPING, status__in=OCCUPYING
        ).exists()
    ):
        raise ValidationError({"kind": "The course already has a mapping session."})
    _check_authorization(course)
    end = starts_at + dt.timedelta(minutes=_slot_minutes(course, kind))
    day = starts_at.astimezone(course.patient.clinic.tz).date()
    calendar = load_calendar(course.patient.clinic, day, day, patient_id=course.patient_id)
    chair_id = _check_slot(calendar, course, chair, starts_at, end)
    session = Session.objects.create(
        course=course,
        patient_id=course.patient_id,
        chair_id=chair_id,
        starts_at=starts_at,
        ends_at=end,
        kind=kind,
        phase=_next_phase_for(course, starts_at),
    )
    session.refresh_from_db()
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
    day = start.astimezone(course.patient.clinic.tz).date()
    calendar = load_calendar(
        course.patient.clinic, day, day, patient_id=course.patient_id, ignore_sessions=[session.pk]
    )
    chair_id = _check_slot(calendar, course, chair or session.chair, start, end)
    Session.objects.filter(pk=session.pk).update(
        starts_at=start, ends_at=end, chair_id=chair_id, updated_at=timezone.now()
    )
    recompute_risk([course.pk])
    previous_start = session.starts_at
    session.refresh_from_db()
    if session.starts_at != previous_start:  # a new chair alone changes nothing for them
        notifications.session_changed(session, moved=True)
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


@transaction.atomic
def session_check_in(session: Session) -> Session:
    session = _lock_session(session)
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


def _activate_if_planned(course: TreatmentCourse) -> None:
    """The first check-in starts a planned course (its screening was checked at booking)."""
    TreatmentCourse.objects.filter(pk=course.pk, status=CourseStatus.PLANNED).update(
        status=CourseStatus.ACTIVE, status_changed_at=timezone.now()
    )


@transaction.atomic
def session_complete(session: Session, *, technician: Any, **record: Any) -> Session:
    session = _lock_session(session)
    session = _transition(
        session,
        [SessionStatus.CHECKED_IN],
        "completed",
        status=SessionStatus.COMPLETED,
        completed_at=timezone.now(),
    )
    TreatmentRecord.objects.create(session=session, technician=technician, **record)
    recompute_risk([session.course_id])
    return session


@transaction.atomic
def session_cancel(session: Session, *, reason: str = "") -> Session:
    session = _lock_session(session)
    session = _transition(
        session,
        [SessionStatus.SCHEDULED, SessionStatus.CHECKED_IN],
        "cancelled",
        status=SessionStatus.CANCELLED,
        cancelled_at=timezone.now(),
        cancel_reason=reason,
    )
    notifications.session_changed(session, moved=False)
    _after_lost_sessions([session])
    return session


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
    notifications.notify_missed([session.pk])
    _after_lost_sessions([session])
    return session


def _after_lost_sessions(sessions: Sequence[Session]) -> None:
    arrange_makeups_and_refresh({session.course_id for session in sessions})


@transaction.atomic
def arrange_makeups_and_refresh(course_ids: Iterable[int]) -> int:
    course_ids = list(course_ids)
    booked = arrange_makeups(course_ids)
    recompute_risk(course_ids)
    return booked


@transaction.atomic
def chair_block_save(block: ChairBlock | None = None, **fields: Any) -> ChairBlock:
    """Save a hold on a chair (see clinic.services.chair_block_save). Refused (409
    ``slot_conflict``, listing them) while sessions are booked on the chair in that
    time: they are moved or cancelled first, so nobody is booked on a blocked chair."""
    saved = clinic_services.chair_block_save(block, **fields)
    clashing = list(
        Session.objects.filter(
            chair_id=saved.chair_id,
            status__in=OCCUPYING,
            starts_at__lt=saved.ends_at,
            ends_at__gt=saved.starts_at,
        ).order_by("starts_at", "id")
    )
    if clashing:
        tz = saved.chair.clinic.tz
        raise Conflict(
            f"{len(clashing)} session(s) are booked on this chair in that time, the first "
            f"{clashing[0].starts_at.astimezone(tz):%a %d %b %H:%M}; move or cancel them "
            "before blocking the chair.",
            code="slot_conflict",
            conflicts=[
                {"session": s.pk, "course": s.course_id, "starts_at": s.starts_at.isoformat()}
                for s in clashing
            ],
        )
    return saved


ENDED = (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)


@transaction.atomic
def course_transition(
    course: TreatmentCourse, target: str, *, by: Any, reason: str = ""
) -> TreatmentCourse:
    """Change a course's status (see courses.services.course_transition). A course that
    ends gives up the sessions still booked: their chairs free up, and no reminder, and
    no "we missed you" once the sweep reaches them, goes to the patient."""
    course = course_services.course_transition(course, target, by=by, reason=reason)
    if target in ENDED:
        now = timezone.now()
        remaining = Session.objects.filter(course=course, status=SessionStatus.SCHEDULED)
        ids = list(remaining.values_list("pk", flat=True))
        cancel_reason = f"Course {course.get_status_display().lower()}"
        remaining.filter(pk__in=ids).update(  # still scheduled: a check-in meanwhile stays
            status=SessionStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=cancel_reason,
            updated_at=now,
        )
        notifications.sessions_released(ids, cancel_reason.lower())
    return course


@transaction.atomic
def authorization_extend(course: TreatmentCourse, **fields: Any) -> Authorization:
    """Add an authorization (an extension) to a course; sessions lost earlier that found
    no make-up within the old one get theirs now, if they fit."""
    authorization = course_services.authorization_add(course, **fields)
    arrange_makeups_and_refresh([course.pk])
    return authorization


# --- make-ups --------------------------------------------------------------------------


def arrange_makeups(course_ids: Iterable[int]) -> int:
    """Book a make-up for every missed or cancelled session of these courses that has
    none yet, after the last session of its phase, within the course window and the
    authorization. Safe to run twice at once: each course is locked while its make-ups
    are arranged, and a session can have only one make-up (a unique key)."""
    booked = 0
    for course_id in sorted(set(course_ids)):
        with transaction.atomic():
            course = (
                TreatmentCourse.objects.select_for_update(of=("self",))
                .select_related("patient__clinic", "protocol")
                .filter(
                    pk=course_id,
                    status__in=OPEN_STATUSES,
                    patient__clinic__auto_makeup=True,
                )
                .first()
            )
            if course is None:
                continue
            lost = list(
                Session.objects.filter(
                    course=course,
                    status__in=[SessionStatus.MISSED, SessionStatus.CANCELLED],
                    makeup__isnull=True,
                ).order_by("starts_at")
            )
            if lost:
                booked += _book_makeups(course, lost)
    return booked


def _book_makeups(course: TreatmentCourse, lost: Sequence[Session]) -> int:
    clinic = course.patient.clinic
    protocol = course.protocol
    today = timezone.localdate(timezone=clinic.tz)
    authorizations = list(course.authorizations.all())
    authorized = sum(a.sessions_authorized for a in authorizations)
    # Within the course window, and the authorization's dates when there is one.
    window_end = window_end_date(course)
    if authorizations:
        window_end = min(window_end, max(a.valid_until for a in authorizations))
    if window_end < today:
        return 0
    calendar = load_calendar(clinic, today, window_end, patient_id=course.patient_id)
    planner = Planner(
        calendar, preferred_time=course.preferred_time, preferred_chair_id=course.preferred_chair_id
    )
    occupying = list(
        Session.objects.filter(course=course, status__in=OCCUPYING).order_by("starts_at")
    )
    held = len(occupying)
    last_by_phase: dict[int, dt.datetime] = {}
    for session in occupying:
        last_by_phase[session.phase] = session.starts_at
    created = []
    for session in lost:
        if authorized and held >= authorized:
            break
        if session.kind == SessionKind.MAPPING:
            # The next session takes over the motor-threshold determination; the lost
            # slot is made up as an ordinary treatment at the end of the phase.
            _promote_to_mapping(course, calendar)
        last = last_by_phase.get(session.phase)
        after = max(today, last.astimezone(clinic.tz).date()) if last else today
        found = planner.next_free_day(
            after, ANY_DAY, protocol.slot_minutes, protocol.sessions_per_day, window_end
        )
        if found is None:
            continue
        _, start, chair_id = found
        created.append(
            Session(
                course=course,
                patient_id=course.patient_id,
                chair_id=chair_id,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=protocol.slot_minutes),
                kind=SessionKind.MAKEUP,
                phase=session.phase,
                makeup_for=session,
            )
        )
        last_by_phase[session.phase] = start
        held += 1
    Session.objects.bulk_create(created)
    return len(created)


def _promote_to_mapping(course: TreatmentCourse, calendar: ClinicCalendar) -> bool:
    """When the mapping session is lost, the course's next session becomes the mapping
    session (longer slot), if its chair and the patient are free for the extra time."""
    if Session.objects.filter(
        course=course, kind=SessionKind.MAPPING, status__in=OCCUPYING
    ).exists():
        return True
    following = (
        Session.objects.filter(
            course=course, status=SessionStatus.SCHEDULED, starts_at__gte=timezone.now()
        )
        .order_by("starts_at")
        .first()
    )
    if following is None:
        return False
    new_end = following.starts_at + dt.timedelta(minutes=course.protocol.mapping_minutes)
    extra = (following.ends_at, new_end)
    if new_end > following.ends_at and not (
        calendar.within_hours(following.starts_at, new_end)
        and calendar.chair_free(following.chair_id, *extra)
        and calendar.patient_free(*extra)
    ):
        return False
    Session.objects.filter(pk=following.pk).update(
        kind=SessionKind.MAPPING, ends_at=new_end, updated_at=timezone.now()
    )
    calendar.hold(following.chair_id, *extra)
    return True


# --- missed-session detection ----------------------------------------------------------


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
    candidates = Session.objects.filter(overdue, status=SessionStatus.SCHEDULED).values("id")
    with transaction.atomic():
        flipped = _update_returning_courses(candidates, now)
        course_ids = sorted({course_id for _, course_id in flipped})
        if course_ids:
            recompute_risk(course_ids)
            notifications.notify_missed(session_id for session_id, _ in flipped)
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


# --- closures after booking ------------------------------------------------------------


def sessions_hit_by_closure(clinic: Clinic, day: dt.date) -> list[Session]:
    start, end = day_bounds(day, clinic.tz)
    return list(
        Session.objects.filter(
            chair__clinic=clinic,
            status=SessionStatus.SCHEDULED,
            starts_at__gte=start,
            starts_at__lt=end,
        )
        .select_related("course__protocol", "patient")
        .order_by("starts_at")
    )


@transaction.atomic
def closure_rebook(clinic: Clinic, day: dt.date) -> list[Session]:
    """Re-book every session still on a (newly) closed day, with the planner's rules.

    A course that has not started yet is planned again from its start date, so its
    mapping session stays first and its cadence intact; the patient is sent the new
    first visit. In a course under way, each hit session moves to the first free slot
    after the last session of its phase, at the course's preferred time, like a make-up;
    the patient is told of the move. All or nothing: 409 lists the sessions that found
    no place.
    """
    affected = sessions_hit_by_closure(clinic, day)
    if not affected:
        return []
    list(Session.objects.select_for_update().filter(pk__in=[s.pk for s in affected]))
    started = set(
        Session.objects.filter(
            course_id__in={s.course_id for s in affected},
            status__in=[SessionStatus.CHECKED_IN, SessionStatus.COMPLETED],
        ).values_list("course_id", flat=True)
    )
    moved: list[Session] = []
    unplaced: list[dict[str, Any]] = []
    replanned: set[int] = set()
    for session in affected:
        course = session.course
        if course.pk not in started:
            if course.pk not in replanned:
                replanned.add(course.pk)
                moved += _replan_unstarted(course)
            continue
        if not _move_after_phase(session, clinic, day):
            unplaced.append({"session": session.pk, "course": course.pk})
            continue
        moved.append(session)
    if unplaced:
        raise Conflict(
            f"{len(unplaced)} session(s) found no free place before their course window ends.",
            code="slot_conflict",
            conflicts=unplaced,
        )
    course_ids = {session.course_id for session in moved}
    recompute_risk(course_ids)
    return moved


def _replan_unstarted(course: TreatmentCourse) -> list[Session]:
    """Plan a not-yet-started course again; its old bookings never happened."""
    course = _lock_course(course)
    old = list(
        Session.objects.filter(course=course, status=SessionStatus.SCHEDULED).values_list(
            "pk", flat=True
        )
    )
    notifications.sessions_withdrawn(old)
    Session.objects.filter(pk__in=old).delete()
    clinic = course.patient.clinic
    first_day = max(course.start_date, timezone.localdate(timezone=clinic.tz))
    limit = _planning_limit(course)
    calendar = load_calendar(clinic, first_day, limit, patient_id=course.patient_id)
    planner = Planner(
        calendar,
        preferred_time=course.preferred_time,
        preferred_chair_id=course.preferred_chair_id,
    )
    placements, failures = planner.plan(course_shape(course.protocol), first_day, until=limit)
    if failures:
        raise _failure_conflict(failures)
    sessions = Session.objects.bulk_create(_sessions_from(course, placements))
    notifications.notify_course_booked(sessions, patient=course.patient, clinic=clinic)
    return sessions


def _move_after_phase(session: Session, clinic: Clinic, day: dt.date) -> bool:
    """Move a session of a course under way to the first free slot after the last
    session of its phase; False when there is none before the planning limit."""
    course = session.course
    window_end = _planning_limit(course)
    calendar = load_calendar(
        clinic, day, window_end, patient_id=course.patient_id, ignore_sessions=[session.pk]
    )
    planner = Planner(
        calendar, preferred_time=course.preferred_time, preferred_chair_id=session.chair_id
    )
    last = (
        Session.objects.filter(course=course, phase=session.phase, status__in=OCCUPYING)
        .exclude(pk=session.pk)
        .aggregate(last=Max("starts_at"))["last"]
    )
    after = max(day, last.astimezone(clinic.tz).date()) if last else day
    phase = next((p for p in course.protocol.phases.all() if p.order == session.phase), None)
    weekdays = cadence_weekdays(phase.per_week if phase else 5, course.start_date.weekday())
    found = planner.next_free_day(
        after,
        weekdays,
        math.ceil((session.ends_at - session.starts_at).total_seconds() / 60),
        course.protocol.sessions_per_day,
        window_end,
    )
    if found is None:
        return False
    _, start, chair_id = found
    session.ends_at = start + (session.ends_at - session.starts_at)
    session.starts_at = start
    session.chair_id = chair_id
    session.save(update_fields=["starts_at", "ends_at", "chair", "updated_at"])
    notifications.session_changed(session, moved=True)
    return True
