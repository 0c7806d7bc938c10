"""A course's own plan where it departs from its protocol's: its type and the course
it follows, the sessions a psychiatrist added, and the window each type allows.

- **Follows**: a continuation, maintenance or booster course names the course it
  follows (an acute course may, e.g. a repeated acute course): the same patient's,
  ended (completed or discontinued: one course is open at a time), and it starts
  after that course ended.
- **Added sessions** (lengthening) extend the last phase that is not a taper (the
  treatment or continuation phase), at that phase's cadence; a taper always stays
  at the end of the course, re-planned after them. A course whose phases are all
  taper extends its last phase.
- **A booster** (a short re-treatment after a relapse) is an acute-style cluster
  (scheduling.risk_rules judges it so): its protocol begins with a treatment phase,
  e.g. the catalog's five sessions over a week (``BOOSTER_PROTOCOL_CODE``) or a
  repeated acute protocol, as the Clinical TMS Society's "Preservation TMS"
  recommendations advise for a relapse. A protocol that begins with continuation
  phases (maintenance) is prescribed as a maintenance course instead.
- **The window**: the planned weeks of every phase (sparse phases count their weeks
  off) plus the clinic's grace; continuation and maintenance courses also get their
  longest phase interval (4 weeks for a monthly phase), so one session moved past a
  closure does not overrun a course that meets once a month.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from courses.models import (
    FOLLOWING_TYPES,
    OPEN_STATUSES,
    CourseType,
    MotorThreshold,
    PhaseKind,
    Protocol,
    ProtocolPhase,
    TreatmentCourse,
    planned_weeks,
)
from courses.protocol_bounds import MAX_SESSIONS_TOTAL

SPARSE_TYPES = (CourseType.CONTINUATION, CourseType.MAINTENANCE)
# The seeded booster (courses/migrations/0013): the booster page's default protocol.
BOOSTER_PROTOCOL_CODE = "booster-10hz-week"


def _invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def extended_phase(phases: Sequence[ProtocolPhase]) -> ProtocolPhase | None:
    """The phase added sessions go to: the last that is not a taper."""
    untapered = [phase for phase in phases if phase.kind != PhaseKind.TAPER]
    candidates = untapered or list(phases)
    return candidates[-1] if candidates else None


def course_phases(
    course: TreatmentCourse, phases: Sequence[ProtocolPhase] | None = None
) -> list[ProtocolPhase]:
    """The course's phases in order: its protocol's (``phases``: already read), with
    the added sessions on the extended phase (copies; the protocol's rows unchanged)."""
    listed = list(course.protocol.phases.all() if phases is None else phases)
    if not course.added_sessions:
        return listed
    target = extended_phase(listed)
    result = []
    for phase in listed:
        if phase is target:
            phase = copy.copy(phase)
            phase.sessions += course.added_sessions
        result.append(phase)
    return result


def course_sessions_total(
    course: TreatmentCourse, phases: Sequence[ProtocolPhase] | None = None
) -> int:
    """The sessions the course books: its phases' (with those added), and the mapping
    session when its protocol has one of its own and the course maps (SNT: 1 + 50)."""
    total = sum(phase.sessions for phase in course_phases(course, phases))
    maps = course.protocol.separate_mapping and course.mapping_reused_from_id is None
    return total + int(maps)


def window_weeks(course: TreatmentCourse, phases: Sequence[ProtocolPhase]) -> int:
    grace = course.patient.clinic.course_window_grace_weeks
    if course.type in SPARSE_TYPES:
        grace += max((phase.every_weeks for phase in phases), default=1)
    return planned_weeks(list(phases), course.protocol.sessions_per_day) + grace


def reusable_motor_threshold(course: TreatmentCourse) -> MotorThreshold | None:
    """The motor threshold a continuation, maintenance or booster course reuses
    instead of a mapping session: the patient's latest, measured within the clinic's
    ``motor_threshold_valid_days`` before the course starts (one query; none for an
    acute course, which always maps)."""
    if course.type == CourseType.ACUTE:
        return None
    days = course.patient.clinic.motor_threshold_valid_days
    return (
        MotorThreshold.objects.filter(
            course__patient_id=course.patient_id,
            measured_on__gte=course.start_date - dt.timedelta(days=days),
            measured_on__lte=course.start_date,
        )
        .order_by("-measured_on", "-id")
        .first()
    )


def check_lengthening(course: TreatmentCourse, sessions: int) -> None:
    """Sessions added stay within the bounds of courses.protocol_bounds."""
    if sessions < 1:
        raise _invalid("sessions", "Add at least one session.", "invalid")
    total = sum(phase.sessions for phase in course_phases(course)) + sessions
    if total > MAX_SESSIONS_TOTAL:
        raise _invalid(
            "sessions",
            f"A course has at most {MAX_SESSIONS_TOTAL} sessions; this would make {total}.",
            "too_many_sessions",
        )


def check_follows(
    patient: Any, course_type: str, follows: TreatmentCourse | None, start_date: dt.date
) -> None:
    """The course followed is the same patient's, ended, and ends before this starts;
    continuation, maintenance and booster courses must name one."""
    if follows is None:
        if course_type in FOLLOWING_TYPES:
            raise _invalid(
                "follows",
                f"A {CourseType(course_type).label.lower()} course follows another course; "
                "choose the course it follows.",
                "follows_required",
            )
        return
    if follows.patient_id != patient.pk:
        raise _invalid("follows", "Choose a course of the same patient.", "follows_other_patient")
    if follows.status in OPEN_STATUSES:
        raise _invalid(
            "follows",
            "The course it follows is still open; complete or discontinue it first.",
            "follows_open",
        )
    ended = ended_on(follows)
    if ended is not None and start_date < ended:
        raise _invalid(
            "start_date",
            f"The course it follows ended {ended:%d %b %Y}; start on or after that day.",
            "starts_before_followed_end",
        )


def ended_on(course: TreatmentCourse) -> dt.date | None:
    """The day an ended course ended: completed on, else the day its status last
    changed (discontinued); None for a course still open or never dated."""
    if course.status in OPEN_STATUSES:
        return None
    if course.completed_on is not None:
        return course.completed_on
    return course.status_changed_at.date() if course.status_changed_at else None


def is_booster_protocol(protocol: Protocol, phases: Sequence[ProtocolPhase] | None = None) -> bool:
    """An acute-style cluster: its first phase is a treatment phase (``phases``:
    already read, in order; else read)."""
    listed = list(protocol.phases.all() if phases is None else phases)
    return bool(listed) and min(listed, key=lambda phase: phase.order).kind == PhaseKind.TREATMENT


def check_booster_protocol(protocol: Protocol) -> None:
    """A booster course's protocol is an acute-style cluster (``is_booster_protocol``)."""
    if not is_booster_protocol(protocol):
        raise _invalid(
            "protocol",
            f"{protocol.name} does not begin with a treatment phase: a booster is a short "
            "acute-style course. Prescribe a maintenance course for a lower cadence.",
            "not_booster_protocol",
        )
