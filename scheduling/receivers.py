"""How the scheduling app answers what the apps below announce (courses.signals,
clinic.signals) and, for the waitlist, its own news of cancelled and moved sessions.
Connected in SchedulingConfig.ready(); each receiver calls one service."""

from __future__ import annotations

from typing import Any

from courses.models import CourseStatus, TreatmentCourse
from scheduling import risk, services
from scheduling.models import Session

ENDED = (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)


def recompute_risk(sender: Any, *, course_ids: list[int], **kwargs: Any) -> None:
    risk.recompute_risk(course_ids)


def refresh_pending_authorization(sender: Any, *, course_ids: list[int], **kwargs: Any) -> None:
    """A new authorization (an extension) may cover sessions booked pending it."""
    services.refresh_pending_authorization(course_ids)


def release_sessions_if_ended(
    sender: Any, *, course: TreatmentCourse, target: str, **kwargs: Any
) -> None:
    if target in ENDED:
        services.release_sessions_of_ended_course(course)


def waitlist_after_status_change(
    sender: Any, *, course: TreatmentCourse, target: str, **kwargs: Any
) -> None:
    """A course that ends frees its chairs (the waitlist is fitted again); a waiting
    course that starts or ends otherwise leaves the waitlist."""
    services.waitlist_course_left(course)
    if target in ENDED:
        services.refresh_on_commit(course.patient.clinic_id)


def waitlist_after_capacity_change(sender: Any, *, clinic_id: int, **kwargs: Any) -> None:
    services.refresh_on_commit(clinic_id)


def waitlist_after_session_change(sender: Any, *, session: Session, **kwargs: Any) -> None:
    """A session cancelled or moved frees its old time."""
    services.refresh_on_commit(session.patient.clinic_id)
