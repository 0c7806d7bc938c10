"""What the courses app announces to the apps above it (docs/architecture.md).

Each signal is sent by a service inside its own transaction and the receivers run
synchronously, so what they write commits or rolls back with the change that caused
it. A receiver that fails makes the service fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from courses.models import Assessment, TreatmentCourse

# course_ids: list[int]. A write changed what these courses' risk is computed from
# (a new course, a score, an authorization, a status, a reviewed safety flag).
risk_inputs_changed = Signal()

# course: TreatmentCourse, previous: str, target: str. A course changed status (through
# course_transition, or planned <-> active by its first check-in and that check-in's undo).
course_status_changed = Signal()

# assessment: Assessment. A rating-scale score was recorded.
assessment_recorded = Signal()


def announce_risk_inputs_changed(sender: object, course_ids: list[int]) -> None:
    risk_inputs_changed.send(sender=sender, course_ids=course_ids)


def announce_course_status_changed(course: TreatmentCourse, previous: str, target: str) -> None:
    course_status_changed.send(sender=type(course), course=course, previous=previous, target=target)


def announce_assessment_recorded(assessment: Assessment) -> None:
    assessment_recorded.send(sender=type(assessment), assessment=assessment)
