"""Undoing a mistaken attendance mark within the clinic's day: a check-in, a missed
mark or a cancellation goes back to the state before it, with the reason recorded
(SessionEvent) and its consequences undone (scheduling.services.reinstate)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import Conflict
from courses import signals as course_signals
from courses.models import CourseStatus, TreatmentCourse
from scheduling.models import Session, SessionEvent, SessionEventAction, SessionStatus
from scheduling.risk import recompute_risk
from scheduling.services.attendance import _lock_session
from scheduling.services.reinstate import reinstate

UNDOABLE = (SessionStatus.CHECKED_IN, SessionStatus.MISSED, SessionStatus.CANCELLED)


def undo_offered(session: Any, clinic: Any, now: dt.datetime | None = None) -> bool:
    """Whether the session's last mark can still be undone: made on the clinic's today
    (and, for a cancellation that would leave the visit scheduled, before its end).
    ``session`` is a Session or a board entry (a dict with the same fields)."""
    fields: dict[str, Any] = (
        {**session, **session["marked"]}
        if isinstance(session, dict)
        else {
            name: getattr(session, name)
            for name in ("status", "checked_in_at", "missed_at", "cancelled_at", "ends_at")
        }
    )
    status = fields["status"]
    marked = {
        SessionStatus.CHECKED_IN: fields["checked_in_at"],
        SessionStatus.MISSED: fields["missed_at"],
        SessionStatus.CANCELLED: fields["cancelled_at"],
    }.get(status)
    if marked is None or marked.astimezone(clinic.tz).date() != clinic.today():
        return False
    now = now or timezone.now()
    back_to_scheduled = status == SessionStatus.CANCELLED and fields["checked_in_at"] is None
    return not (back_to_scheduled and fields["ends_at"] <= now)


@transaction.atomic
def session_undo(session: Session, *, reason: str, by: Any) -> Session:
    """Undo the session's check-in, missed mark or cancellation (400 without a reason;
    409 ``invalid_transition`` for another state, ``undo_too_late`` after the clinic's
    day, ``slot_conflict`` when the chair or patient is taken now, ``makeup_taken`` when
    the make-up the mark booked has begun)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the mark is undone."})
    session = _lock_session(session)
    if session.status not in UNDOABLE:
        raise Conflict(
            f"A {session.status.replace('_', '-')} session has nothing to undo.",
            code="invalid_transition",
        )
    clinic = session.course.patient.clinic
    if not undo_offered(session, clinic):
        raise Conflict(
            "Only a mark made today can be undone (and a cancellation only before the "
            "session ends); book a new session instead.",
            code="undo_too_late",
        )
    if session.status == SessionStatus.CHECKED_IN:
        return _undo_check_in(session, reason, by)
    if session.status == SessionStatus.MISSED:
        return reinstate(
            session,
            to_status=SessionStatus.SCHEDULED,
            action=SessionEventAction.UNDO_MISSED,
            reason=reason,
            by=by,
            missed_at=None,
        )
    # Cancelled: back to checked in if the patient was here, else scheduled.
    was_here = session.checked_in_at is not None
    return reinstate(
        session,
        to_status=SessionStatus.CHECKED_IN if was_here else SessionStatus.SCHEDULED,
        action=SessionEventAction.UNDO_CANCEL,
        reason=reason,
        by=by,
        cancelled_at=None,
        cancel_reason="",
    )


def _undo_check_in(session: Session, reason: str, by: Any) -> Session:
    now = timezone.now()
    Session.objects.filter(pk=session.pk).update(
        status=SessionStatus.SCHEDULED, checked_in_at=None, updated_at=now
    )
    SessionEvent.objects.create(
        session=session,
        action=SessionEventAction.UNDO_CHECK_IN,
        from_status=SessionStatus.CHECKED_IN,
        to_status=SessionStatus.SCHEDULED,
        reason=reason,
        by=by,
        at=now,
    )
    _deactivate_if_unstarted(session.course)
    session.refresh_from_db()
    recompute_risk([session.course_id])
    return session


def _deactivate_if_unstarted(course: TreatmentCourse) -> None:
    """The first check-in started the course; with it undone and no other visit begun,
    the course is planned again (as it was)."""
    begun = Session.objects.filter(
        course=course, status__in=[SessionStatus.CHECKED_IN, SessionStatus.COMPLETED]
    )
    if begun.exists():
        return
    if TreatmentCourse.objects.filter(pk=course.pk, status=CourseStatus.ACTIVE).update(
        status=CourseStatus.PLANNED, status_changed_at=timezone.now()
    ):
        course.status = CourseStatus.PLANNED
        course_signals.announce_course_status_changed(
            course, CourseStatus.ACTIVE, CourseStatus.PLANNED
        )
