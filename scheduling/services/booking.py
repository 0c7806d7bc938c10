"""Booking a whole course: plan every session on the clinic's calendar and write them
in one transaction (all or nothing), with the outbox rows and risk that go with it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from clinic.errors import Conflict
from courses import course_plan
from courses.models import (
    Assessment,
    Authorization,
    AuthorizationCode,
    CourseStatus,
    Protocol,
    ProtocolPhase,
    ScreeningStatus,
    TreatmentCourse,
)
from courses.protocol_bounds import check_schedule_size
from courses.selectors import latest_screening, window_end_date
from courses.services import course_create
from scheduling import signals
from scheduling.calendar import load_calendar
from scheduling.models import OCCUPYING, Session
from scheduling.planner import (
    FLEX_BOTH,
    CourseShape,
    Failure,
    PhasePlan,
    Placement,
    Planner,
)
from scheduling.planning_read import planning_read
from scheduling.risk import CourseFacts, SessionFact, store_risk
from scheduling.services.authorization import OutsidePlacement, split_placements

FAILURE_MESSAGES = {
    "slot_conflict": "no chair is free at that time",
    "outside_hours": "the time falls outside opening hours",
    "patient_conflict": "the patient already has a session then",
}


def course_shape(
    protocol: Protocol,
    phases: Sequence[ProtocolPhase] | None = None,
    *,
    needs_mapping: bool = True,
) -> CourseShape:
    """The planner's view of a protocol (``phases``: already loaded, else read; a
    course's own are courses.course_plan.course_phases)."""
    plans = [
        PhasePlan(phase.order, phase.kind, phase.sessions, phase.per_week, phase.every_weeks)
        for phase in (protocol.phases.all() if phases is None else phases)
    ]
    return CourseShape(
        phases=plans,
        slot_minutes=protocol.slot_minutes,
        mapping_minutes=protocol.mapping_minutes,
        sessions_per_day=protocol.sessions_per_day,
        min_gap_minutes=protocol.min_gap_minutes,
        start_spacing_minutes=protocol.start_spacing,
        mapping_schedule=protocol.mapping_schedule,
        needs_mapping=needs_mapping,
    )


def lock_course(course: TreatmentCourse) -> TreatmentCourse:
    return (
        TreatmentCourse.objects.select_for_update(of=("self",))
        .select_related("patient__clinic", "protocol")
        .get(pk=course.pk)
    )


_UNREAD = "unread"


def require_bookable(course: TreatmentCourse, screening_status: str | None = _UNREAD) -> None:
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


def planning_limit(course: TreatmentCourse, window_end: dt.date | None = None) -> dt.date:
    """How far ahead sessions may go: the course window plus as long again, so
    closures can push sessions out (and show as window overrun) without looping."""
    window_end = window_end or window_end_date(course)
    return window_end + (window_end - course.start_date)


def failure_conflict(failures: Sequence[Failure]) -> Conflict:
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


def sessions_from(
    course: TreatmentCourse, placements: Iterable[Placement], pending: Collection[int] = ()
) -> list[Session]:
    """Unsaved sessions for ``placements``; those at the positions in ``pending`` are
    marked pending authorization."""
    return [
        Session(
            course=course,
            patient_id=course.patient_id,
            chair_id=placement.chair_id,
            starts_at=placement.starts_at,
            ends_at=placement.ends_at,
            kind=placement.kind,
            phase=placement.phase,
            pending_authorization=position in pending,
        )
        for position, placement in enumerate(placements)
    ]


def insert_sessions(sessions: list[Session]) -> list[Session]:
    """Save new sessions in one statement, as ``bulk_create`` does (no signals), and
    return them with their ids. On PostgreSQL the rows travel as one JSON parameter
    (``jsonb_populate_recordset``): ``bulk_create`` prepares every value of every field
    through the field and sends each column as an array that psycopg dumps element by
    element, and a multi-row VALUES list has psycopg split and quote hundreds of
    placeholders in Python; either costs several times the database's own work for a
    course's 36 rows."""
    if connection.vendor != "postgresql" or not sessions:
        return Session.objects.bulk_create(sessions)
    columns = [
        (str(model_field.column), model_field.attname)
        for model_field in Session._meta.concrete_fields
        if not model_field.primary_key
    ]
    now = timezone.now()
    rows = []
    for session in sessions:
        session.created_at = session.updated_at = now
        row = {}
        for column, attname in columns:
            value = getattr(session, attname)
            row[column] = value.isoformat() if isinstance(value, dt.date) else value
        rows.append(row)
    quoted = ", ".join(connection.ops.quote_name(column) for column, _ in columns)
    table = connection.ops.quote_name(Session._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({quoted}) SELECT {quoted} "  # noqa: S608 - model names only
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) RETURNING starts_at, id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows)])
        # Matched by start (one patient's new sessions never overlap, so no two share
        # one), not by position: SQL promises no order for INSERT ... SELECT's rows.
        ids = dict(cursor.fetchall())
    if len(ids) != len(sessions):
        raise RuntimeError("new sessions must start at distinct times")
    for session in sessions:
        session.pk = ids[session.starts_at]
        session._state.adding = False
        session._state.db = connection.alias
    return sessions


@dataclass(frozen=True)
class CourseBooking:
    """What booking a whole course booked, and the planned sessions its authorization
    does not cover (booked marked pending, or left unbooked: the clinic's setting)."""

    sessions: list[Session]
    outside_authorization: list[OutsidePlacement] = field(default_factory=list)


def book_placements(
    course: TreatmentCourse, placements: Sequence[Placement], authorizations: Sequence[Any]
) -> CourseBooking:
    """Write a new course's planned sessions, after the authorization rule: a step
    of its own, applied to the planner's whole list once planning is done."""
    clinic = course.patient.clinic
    to_book, pending, outside = split_placements(clinic, placements, authorizations)
    sessions = insert_sessions(sessions_from(course, to_book, pending))
    signals.announce_sessions_booked(sessions, patient=course.patient, clinic=clinic)
    return CourseBooking(sessions, outside)


def course_schedule(
    course: TreatmentCourse, *, time_flex_minutes: int = 0, allow_past: bool = False
) -> list[Session]:
    """Book every session of a course in one go (``course_schedule_booking``); the
    sessions booked."""
    return course_schedule_booking(
        course, time_flex_minutes=time_flex_minutes, allow_past=allow_past
    ).sessions


@transaction.atomic
def course_schedule_booking(
    course: TreatmentCourse,
    *,
    time_flex_minutes: int = 0,
    allow_past: bool = False,
    dry_run: bool = False,
    flex_direction: str = FLEX_BOTH,
) -> CourseBooking:
    """Book every session of a course in one go: all of them, or none (409). Sessions
    beyond the course's authorization are booked marked pending, or left unbooked,
    as the clinic chose (``services.authorization``). ``dry_run`` runs exactly the
    same rules and rolls everything back (the preview). ``flex_direction``: the time
    flex on both sides of the preferred time, or only before or after it (a waitlist
    entry's "before 10:00").

    A fixed number of queries whatever the course's length: the locked course, what
    planning needs (one), the calendar (two), one INSERT, and the risk facts not
    already at hand (the assessments and authorizations with their codes, when the
    course has any: none for a new course; plus an UPDATE if the level changed)."""
    course = (
        TreatmentCourse.objects.select_for_update(of=("self",))
        .select_related("patient__clinic__reminder_policy", "protocol")
        .get(pk=course.pk)
    )
    planning = planning_read(course)
    require_bookable(course, planning.screening_status)
    clinic = course.patient.clinic
    existing = planning.sessions
    if any(fact.status in OCCUPYING for fact in existing):
        raise Conflict(
            "This course already has sessions; move or book single sessions instead.",
            code="already_scheduled",
        )
    today = clinic.today()
    if course.start_date < today and not allow_past:
        raise ValidationError(
            {"start_date": "The course starts in the past; pick a new start date."}
        )
    reused = course_plan.reusable_motor_threshold(course)
    if course.mapping_reused_from_id != (reused.pk if reused else None):
        course.mapping_reused_from = reused
        course.save(update_fields=["mapping_reused_from"])
    shape = course_shape(
        course.protocol,
        course_plan.course_phases(course, planning.phases),
        needs_mapping=reused is None,
    )
    # A protocol saved before its bounds may still be larger: never plan past them.
    check_schedule_size([{"sessions": phase.sessions} for phase in shape.phases])
    # Read the calendar up to the course window first; only when closures push the
    # course past it is the longer planning limit read (one more set of queries).
    window_end = window_end_date(course, planning.phases)
    for until in (window_end, planning_limit(course, window_end)):
        calendar = load_calendar(
            clinic,
            course.start_date,
            until,
            coil=course.protocol.coil,
            patient_id=course.patient_id,
            time_of_day=_time_of_day(course.preferred_time, shape, time_flex_minutes),
            hours=planning.hours,
        )
        planner = Planner(
            calendar,
            preferred_time=course.preferred_time,
            preferred_chair_id=course.preferred_chair_id,
            time_flex_minutes=time_flex_minutes,
            flex_direction=flex_direction,
        )
        placements, failures = planner.plan(shape, course.start_date, until=until)
        ran_past = bool(failures) and failures[-1].date > until
        if not ran_past:
            break
    if failures:
        raise failure_conflict(failures)
    # A new course usually has neither authorizations nor assessments (planning_read
    # counted them): nothing to read then.
    authorizations = (
        list(Authorization.objects.filter(course=course)) if planning.authorizations else []
    )
    booking = book_placements(course, placements, authorizations)
    sessions = booking.sessions
    store_risk(
        [
            CourseFacts(
                course,
                sessions=sorted(
                    [
                        *existing,
                        *(SessionFact(s.status, s.starts_at, s.phase, s.kind) for s in sessions),
                    ],
                    key=lambda fact: fact.starts_at,
                ),
                assessments=list(Assessment.objects.filter(course=course))
                if planning.assessments
                else [],
                authorizations=authorizations,
                authorization_codes=list(
                    AuthorizationCode.objects.filter(authorization__course=course).values_list(
                        "code", "units"
                    )
                )
                if authorizations
                else [],
                open_safety_flags=planning.open_safety_flags,
                closures=calendar.closures,
                open_weekdays=set(calendar.hours),
                phases=planning.phases,
            )
        ]
    )
    if dry_run:
        transaction.set_rollback(True)
    return booking


def course_book(
    *, time_flex_minutes: int = 0, dry_run: bool = False, **course_fields: Any
) -> tuple[TreatmentCourse, CourseBooking]:
    """Create a course and book all its sessions in one transaction (the web page's
    "book a course"). ``dry_run`` runs exactly the same rules and rolls everything back,
    so a preview can never disagree with what confirming it will book."""
    with transaction.atomic():
        course = course_create(**course_fields)
        booking = course_schedule_booking(course, time_flex_minutes=time_flex_minutes)
        if dry_run:
            transaction.set_rollback(True)
    return course, booking


def time_of_day_span(
    times: Iterable[dt.time], shape: CourseShape, flex_minutes: int
) -> tuple[dt.time, dt.time] | None:
    """The stretch of each day that a once-a-day course at any of ``times`` can touch
    (``_time_of_day`` of each, joined); None (the whole day) when one of them needs it."""
    spans = [_time_of_day(at, shape, flex_minutes) for at in times]
    if not spans or any(span is None for span in spans):
        return None
    return min(span[0] for span in spans if span), max(span[1] for span in spans if span)


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
