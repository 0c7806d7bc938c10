"""Changes to the clinic's calendar after booking: a closure's sessions re-booked, a
chair block refused over booked sessions, and an ended course's bookings released."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import ChairBlock, Clinic
from courses.models import (
    TreatmentCourse,
)
from scheduling import signals
from scheduling.calendar import day_bounds, load_calendar
from scheduling.models import OCCUPYING, Session, SessionStatus
from scheduling.planner import (
    Planner,
    cadence_weekdays,
)
from scheduling.risk import recompute_risk
from scheduling.services.authorization import refresh_pending_authorization
from scheduling.services.booking import (
    book_placements,
    course_shape,
    failure_conflict,
    lock_course,
    planning_limit,
)
from scheduling.services.waitlist import refresh_on_commit


@transaction.atomic
def chair_block_save(block: ChairBlock | None = None, **fields: Any) -> ChairBlock:
    """Save a hold on a chair. Refused (409 ``slot_conflict``, listing them) while
    sessions are booked on the chair in that time: they are moved or cancelled first,
    so nobody is booked on a blocked chair."""
    saved = block or ChairBlock()
    for name, value in fields.items():
        setattr(saved, name, value)
    saved.full_clean(validate_unique=False, validate_constraints=False)
    saved.save()
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
    refresh_on_commit(saved.chair.clinic_id)
    return saved


def chair_block_delete(block: ChairBlock) -> None:
    """Lift a hold on a chair: the chair is bookable again in that time."""
    clinic_id = block.chair.clinic_id
    block.delete()
    refresh_on_commit(clinic_id)


def release_sessions_of_ended_course(course: TreatmentCourse) -> list[int]:
    """A course that ends gives up the sessions still booked: their chairs free up, and
    no reminder, and no "we missed you" once the sweep reaches them, goes to the patient.
    Called in the transaction of the course's transition (courses.signals)."""
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
    signals.announce_sessions_released(ids, cancel_reason.lower())
    return ids


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
    no place. Only a closure from the clinic's today on: a past day's sessions were
    attended or missed, not moved (409 ``closure_past``).
    """
    if day < clinic.today():
        raise Conflict(
            f"{day:%A %d %B %Y} has passed: its sessions are kept as they happened.",
            code="closure_past",
        )
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
    refresh_pending_authorization(course_ids)
    recompute_risk(course_ids)
    return moved


def _replan_unstarted(course: TreatmentCourse) -> list[Session]:
    """Plan a not-yet-started course again; its old bookings never happened."""
    course = lock_course(course)
    old = list(
        Session.objects.filter(course=course, status=SessionStatus.SCHEDULED).values_list(
            "pk", flat=True
        )
    )
    signals.announce_sessions_withdrawn(old)
    Session.objects.filter(pk__in=old).delete()
    clinic = course.patient.clinic
    first_day = max(course.start_date, clinic.today())
    limit = planning_limit(course)
    calendar = load_calendar(
        clinic, first_day, limit, coil=course.protocol.coil, patient_id=course.patient_id
    )
    planner = Planner(
        calendar,
        preferred_time=course.preferred_time,
        preferred_chair_id=course.preferred_chair_id,
    )
    placements, failures = planner.plan(course_shape(course.protocol), first_day, until=limit)
    if failures:
        raise failure_conflict(failures)
    return book_placements(course, placements, list(course.authorizations.all())).sessions


def _move_after_phase(session: Session, clinic: Clinic, day: dt.date) -> bool:
    """Move a session of a course under way to the first free slot after the last
    session of its phase; False when there is none before the planning limit."""
    course = session.course
    window_end = planning_limit(course)
    calendar = load_calendar(
        clinic,
        day,
        window_end,
        coil=course.protocol.coil,
        patient_id=course.patient_id,
        ignore_sessions=[session.pk],
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
    previous_start = session.starts_at
    session.ends_at = start + (session.ends_at - session.starts_at)
    session.starts_at = start
    session.chair_id = chair_id
    session.save(update_fields=["starts_at", "ends_at", "chair", "updated_at"])
    signals.announce_session_changed(session, moved=True, previous_start=previous_start)
    return True
