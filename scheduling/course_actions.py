"""Which course actions the course page offers for a course's status (the transition
rules are courses.models.COURSE_TRANSITIONS)."""

from __future__ import annotations

from courses.models import COURSE_TRANSITIONS, CourseStatus, TreatmentCourse

LABELS = (
    ("pause", CourseStatus.PAUSED, "Pause"),
    ("resume", CourseStatus.ACTIVE, "Resume"),
    ("complete", CourseStatus.COMPLETED, "Complete"),
    ("discontinue", CourseStatus.DISCONTINUED, "Discontinue"),
)


def course_status_actions(course: TreatmentCourse) -> list[tuple[str, str]]:
    """(action, label) for each status change the course allows now; "resume" only
    from a pause (a planned course becomes active by its first check-in)."""
    allowed = COURSE_TRANSITIONS[course.status]
    return [
        (action, label)
        for action, target, label in LABELS
        if target in allowed and (action != "resume" or course.status == CourseStatus.PAUSED)
    ]
