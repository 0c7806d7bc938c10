"""How the scheduling app answers what the courses app announces (courses.signals).
Connected in SchedulingConfig.ready(); each receiver calls one service."""

from __future__ import annotations

from typing import Any

from courses.models import CourseStatus, TreatmentCourse
from scheduling import risk, services

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
