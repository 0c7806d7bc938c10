"""A psychiatrist's changes to a course's plan mid-course: lengthen it (sessions added,
with a reason) or switch its protocol (e.g. 10 Hz to iTBS). Either way the sessions
still to come are re-planned from a chosen day, all or nothing: the bookings from that
day on are released and the course's remaining sessions booked again on the new
plan; if any session cannot be placed, nothing changes (409 with the dates). The
change is recorded on the course's timeline (courses.models.CourseChange).

What remains: the sessions already held (done, checked in, or booked before the
re-planning day) count against the course's phases in order; the rest of each phase
is planned at its own cadence, so a taper stays at the end (courses.course_plan puts
added sessions on the last phase that is not a taper). No mapping session is planned
unless the course has held none and reuses no motor threshold. Re-planned sessions
beyond the course's authorization are booked marked pending authorization.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import Conflict
from courses import course_plan
from courses.models import (
    CourseChange,
    CourseChangeKind,
    CourseStatus,
    Protocol,
    ProtocolPhase,
    TreatmentCourse,
)
from scheduling import signals
from scheduling.calendar import day_bounds, load_calendar
from scheduling.models import OCCUPYING, Session, SessionKind, SessionStatus
from scheduling.planner import PhasePlan, Planner
from scheduling.risk import recompute_risk
from scheduling.services.authorization import refresh_pending_authorization
from scheduling.services.booking import (
    course_shape,
    failure_conflict,
    lock_course,
    require_bookable,
    sessions_from,
)

REPLAN_REASON = "Course re-planned"


@dataclass(frozen=True)
class Replan:
    """What a lengthening or switch did (or, in a dry run, would do)."""

    change: CourseChange
    released: list[Session]  # the bookings from the re-planning day on, replaced
    booked: list[Session]  # the remaining sessions, on the new plan


def _invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def course_lengthen(
    course: TreatmentCourse,
    *,
    by: Any,
    sessions: int,
    reason: str,
    from_date: dt.date | None = None,
    dry_run: bool = False,
) -> Replan:
    """Add ``sessions`` to the course and re-plan what remains from ``from_date``
    (default: today); ``dry_run`` runs the same and rolls it back (the preview)."""

    def change(locked: TreatmentCourse) -> dict[str, Any]:
        course_plan.check_lengthening(locked, sessions)
        locked.added_sessions += sessions
        return {"kind": CourseChangeKind.LENGTHENED, "sessions_added": sessions}

    return _replan(course, change, by=by, reason=reason, from_date=from_date, dry_run=dry_run)


def course_switch_protocol(
    course: TreatmentCourse,
    *,
    by: Any,
    protocol: Protocol,
    reason: str,
    from_date: dt.date | None = None,
    dry_run: bool = False,
) -> Replan:
    """Switch the course to ``protocol`` and re-plan what remains on it. The
    prescription's pulses and intensity return to the new protocol's (they were the
    old one's); the preferred chair is dropped when it lacks the new protocol's coil."""

    def change(locked: TreatmentCourse) -> dict[str, Any]:
        clinic_id = locked.patient.clinic_id
        if protocol.clinic_id not in (None, clinic_id) or not protocol.active:
            raise _invalid("protocol", "Choose an active protocol of this clinic.", "invalid")
        if protocol.pk == locked.protocol_id:
            raise _invalid("protocol", "The course already follows this protocol.", "unchanged")
        previous = locked.protocol
        locked.protocol = protocol
        locked.prescribed_pulses = None
        locked.prescribed_intensity_pct_mt = None
        chair = locked.preferred_chair
        if chair is not None and not chair.fits(protocol.coil):
            locked.preferred_chair = None
        return {
            "kind": CourseChangeKind.PROTOCOL_SWITCHED,
            "from_protocol": previous,
            "to_protocol": protocol,
        }

    return _replan(course, change, by=by, reason=reason, from_date=from_date, dry_run=dry_run)


def remaining_phases(
    phases: Sequence[ProtocolPhase], held: int, *, sessions_per_day: int
) -> list[PhasePlan]:
    """The course's phases less the ``held`` sessions, counted against them in order."""
    plans = []
    for phase in phases:
        used = min(held, phase.sessions)
        held -= used
        if phase.sessions > used:
            plans.append(
                PhasePlan(
                    phase.order,
                    phase.kind,
                    phase.sessions - used,
                    phase.per_week,
                    phase.every_weeks,
                )
            )
    return plans


def _horizon(plans: Sequence[PhasePlan], sessions_per_day: int, grace_weeks: int) -> int:
    """Weeks the remaining phases need, and as long again (as course_schedule looks
    ahead), so closures can push sessions out without planning forever."""
    weeks = sum(
        (math.ceil(plan.sessions / (plan.per_week * sessions_per_day)) - 1) * plan.every_weeks + 1
        for plan in plans
    )
    longest = max((plan.every_weeks for plan in plans), default=1)
    return 2 * (weeks + grace_weeks + longest)


@transaction.atomic
def _replan(
    course: TreatmentCourse,
    change: Any,
    *,
    by: Any,
    reason: str,
    from_date: dt.date | None,
    dry_run: bool,
) -> Replan:
    locked = lock_course(course)
    if locked.status == CourseStatus.PAUSED:
        raise Conflict("Resume the course before changing its plan.", code="course_paused")
    require_bookable(locked)  # open, and the patient's screening cleared
    reason = reason.strip()
    if not reason:
        raise _invalid("reason", "Say why the plan changes.", "required")
    clinic = locked.patient.clinic
    earliest = max(clinic.today(), locked.start_date)
    start = from_date or earliest
    if start < earliest:
        raise _invalid(
            "from_date",
            f"Re-plan from {earliest:%d %b %Y} or later (today, and not before the course starts).",
            "too_early",
        )
    old_protocol = locked.protocol
    fields = change(locked)
    locked.save()
    cutoff = max(day_bounds(start, clinic.tz)[0], timezone.now())
    sessions = list(Session.objects.filter(course=locked).order_by("starts_at", "id"))
    released = [
        s for s in sessions if s.status == SessionStatus.SCHEDULED and s.starts_at >= cutoff
    ]
    released_ids = {s.pk for s in released}
    held = [s for s in sessions if s.status in OCCUPYING and s.pk not in released_ids]
    # A mapping session of its own (accelerated protocols) is not one of the phases'.
    counted = sum(
        1 for s in held if not (s.kind == SessionKind.MAPPING and old_protocol.separate_mapping)
    )
    protocol = locked.protocol
    plans = remaining_phases(
        course_plan.course_phases(locked), counted, sessions_per_day=protocol.sessions_per_day
    )
    now = timezone.now()
    Session.objects.filter(pk__in=released_ids).update(
        status=SessionStatus.CANCELLED,
        cancelled_at=now,
        cancel_reason=REPLAN_REASON,
        updated_at=now,
    )
    signals.announce_sessions_released(sorted(released_ids), REPLAN_REASON.lower())
    needs_mapping = not held and locked.mapping_reused_from_id is None
    shape = dataclasses.replace(
        course_shape(protocol, [], needs_mapping=needs_mapping), phases=plans
    )
    until = start + dt.timedelta(
        weeks=_horizon(plans, protocol.sessions_per_day, clinic.course_window_grace_weeks)
    )
    calendar = load_calendar(clinic, start, until, coil=protocol.coil, patient_id=locked.patient_id)
    planner = Planner(
        calendar, preferred_time=locked.preferred_time, preferred_chair_id=locked.preferred_chair_id
    )
    placements, failures = planner.plan(shape, start, until=until)
    if failures:
        raise failure_conflict(failures)
    booked = Session.objects.bulk_create(sessions_from(locked, placements))
    signals.announce_sessions_booked(booked, patient=locked.patient, clinic=clinic)
    refresh_pending_authorization([locked.pk])
    record = CourseChange.objects.create(
        course=locked,
        replanned_from=start,
        sessions_replanned=len(booked),
        reason=reason,
        by=by,
        at=now,
        **fields,
    )
    recompute_risk([locked.pk])
    if dry_run:
        transaction.set_rollback(True)
    return Replan(record, released, booked)
