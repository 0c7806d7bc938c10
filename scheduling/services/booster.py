"""A booster course in one action: after an ended course (a relapse, say), prescribe a
booster that follows it, plan every session and book them, in one transaction.

It is the prescribing page's "prescribe and book" (``booking.course_book``) with the
prescription taken from the course followed: the same patient, indication, primary
scale and billed diagnosis; the psychiatrist acting prescribes it. So it refuses what
prescribing and booking refuse, with the same codes:

- 409 ``course_not_ended``: the course followed is still open (only a completed or
  discontinued course is followed: courses.course_plan);
- 409 ``course_exists``: the patient has another open course;
- 409 ``screening_required``: the patient's latest screening is not cleared;
- 409 ``slot_conflict`` / ``outside_hours`` / ``patient_conflict``: not every session
  fits (the planner's dates, each with its reason); nothing is written;
- 400 ``protocol`` ``not_booster_protocol``: a protocol that does not begin with a
  treatment phase (courses.course_plan.is_booster_protocol);
- 400 ``start_date``: before the course followed ended, in the past, or not within a
  year of today; 400 ``psychiatrist`` when the person acting may not prescribe here.

Whether the first session maps is booking's rule: none when a motor threshold from
the clinic's ``motor_threshold_valid_days`` before the start exists
(``course_plan.reusable_motor_threshold``). ``preview`` runs exactly the same and
rolls everything back, so the preview cannot disagree with what confirming books.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from clinic.errors import Conflict
from clinic.models import Chair
from courses import course_plan
from courses.models import (
    OPEN_STATUSES,
    CourseType,
    MotorThreshold,
    Protocol,
    TreatmentCourse,
)
from scheduling.services.booking import CourseBooking, course_book


@dataclass(frozen=True)
class BoosterBooking:
    """The booster course and what booking it booked (in a preview: what it would,
    nothing of it stored; the course's and the sessions' ``pk`` are then None)."""

    course: TreatmentCourse
    booking: CourseBooking
    # The motor threshold reused instead of a mapping session; None: the first maps.
    reused_threshold: MotorThreshold | None


def booster_book(
    course: TreatmentCourse,
    *,
    by: Any,
    protocol: Protocol,
    start_date: dt.date,
    preferred_time: dt.time | None = None,
    preferred_chair: Chair | None = None,
    time_flex_minutes: int = 0,
    preview: bool = False,
) -> BoosterBooking:
    """Prescribe (``by`` is the psychiatrist), plan and book a booster course following
    ``course``, all or nothing. ``preferred_time``: the followed course's when None;
    ``preferred_chair``: None for any free chair that fits the protocol's coil."""
    with transaction.atomic():
        followed = TreatmentCourse.objects.select_related("patient__clinic", "protocol").get(
            pk=course.pk
        )
        if followed.status in OPEN_STATUSES:
            raise Conflict(
                f"The course is {followed.get_status_display().lower()}: a booster follows a "
                "completed or discontinued course.",
                code="course_not_ended",
            )
        course_plan.check_booster_protocol(protocol)
        # The coil position found at mapping carries over to the same target.
        same_target = protocol.target == followed.protocol.target
        booster, booking = course_book(
            time_flex_minutes=time_flex_minutes,
            patient=followed.patient,
            psychiatrist=by,
            protocol=protocol,
            indication=followed.indication,
            primary_instrument=followed.primary_instrument,
            diagnosis_code=followed.diagnosis_code,
            prescribed_coil_position=followed.prescribed_coil_position if same_target else "",
            start_date=start_date,
            preferred_time=preferred_time or followed.preferred_time,
            preferred_chair=preferred_chair,
            type=CourseType.BOOSTER,
            follows=followed,
        )
        reused = course_plan.reusable_motor_threshold(booster)
        booster.mapping_reused_from = reused
        if preview:
            transaction.set_rollback(True)
            booster.pk = None  # the rows were rolled back: no ids
            for session in booking.sessions:
                session.pk = None
    return BoosterBooking(booster, booking, reused)
