"""A course's status changes as the course page makes them, with what each does to the
bookings: a pause keeps the sessions inside it or releases them; a resume re-plans the
released ones from a chosen date (previewed by a dry run); complete and discontinue
release what is still booked (scheduling.receivers). The status rules themselves are
courses.services.course_transition's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from courses import services as course_services
from courses.models import CourseStatus, TreatmentCourse
from scheduling import signals
from scheduling.calendar import day_bounds
from scheduling.models import Session, SessionStatus
from scheduling.risk import recompute_risk
from scheduling.services.authorization import refresh_pending_authorization
from scheduling.services.makeups import book_makeups

PAUSE_REASON = "Course paused"


def sessions_ahead(course: TreatmentCourse, from_date: dt.date) -> list[Session]:
    """The course's sessions still booked from ``from_date`` on (the clinic's day), in
    time order: those a pause starting that day would keep or release."""
    start, _ = day_bounds(from_date, course.patient.clinic.tz)
    return list(
        Session.objects.filter(
            course=course,
            status=SessionStatus.SCHEDULED,
            starts_at__gte=max(start, timezone.now()),
        )
        .select_related("chair")
        .order_by("starts_at")
    )


def released_by_pause(course: TreatmentCourse) -> list[Session]:
    """The sessions a pause released that nothing has replaced yet."""
    return list(
        Session.objects.filter(
            course=course,
            status=SessionStatus.CANCELLED,
            cancel_reason=PAUSE_REASON,
            makeup__isnull=True,
        ).order_by("starts_at")
    )


@transaction.atomic
def course_pause(
    course: TreatmentCourse, *, by: Any, reason: str, release: bool, from_date: dt.date
) -> list[int]:
    """Pause the course; with ``release``, the sessions booked from ``from_date`` on
    are cancelled (their chairs free up, their reminders stop), to be re-planned when
    the course resumes. The ids released."""
    course = course_services.course_transition(course, CourseStatus.PAUSED, by=by, reason=reason)
    if not release:
        return []
    if from_date < course.patient.clinic.today():
        raise ValidationError({"from_date": "A pause cannot start before today."})
    ids = [session.pk for session in sessions_ahead(course, from_date)]
    now = timezone.now()
    Session.objects.filter(pk__in=ids, status=SessionStatus.SCHEDULED).update(
        status=SessionStatus.CANCELLED, cancelled_at=now, cancel_reason=PAUSE_REASON, updated_at=now
    )
    signals.announce_sessions_released(ids, PAUSE_REASON.lower())
    recompute_risk([course.pk])
    return ids


@transaction.atomic
def course_resume(
    course: TreatmentCourse, *, by: Any, from_date: dt.date, dry_run: bool = False
) -> tuple[list[Session], int]:
    """Resume a paused course and re-plan the sessions its pause released, from
    ``from_date`` on, after the sessions it kept, within the course window lengthened
    by the pause and within the authorization (as make-ups are). ``dry_run``: the same,
    rolled back (the preview). The sessions booked, and how many found no place."""
    paused_at = (
        TreatmentCourse.objects.filter(pk=course.pk).values_list("status_changed_at", flat=True)
    ).first()
    course = course_services.course_transition(course, CourseStatus.ACTIVE, by=by)
    clinic = course.patient.clinic
    today = clinic.today()
    if from_date < today:
        raise ValidationError({"from_date": "Re-plan from today or a later day."})
    paused_on = paused_at.astimezone(clinic.tz).date() if paused_at else today
    lost = released_by_pause(course)
    booked = book_makeups(
        course, lost, not_before=from_date, extra_days=max(0, (from_date - paused_on).days)
    )
    refresh_pending_authorization([course.pk])
    recompute_risk([course.pk])
    if dry_run:
        transaction.set_rollback(True)
    return booked, len(lost) - len(booked)
