"""What the courses app announces to the apps above it (docs/architecture.md).

Each signal is sent by a service inside its own transaction and the receivers run
synchronously, so what they write commits or rolls back with the change that caused
it. A receiver that fails makes the service fail.
"""

from __future__ import annotations

from django.dispatch import Signal

# course_ids: list[int]. A write changed what these courses' risk is computed from
# (a new course, a score, an authorization, a status, a reviewed safety flag).
risk_inputs_changed = Signal()

# course: TreatmentCourse, previous: str, target: str. A course changed status.
course_status_changed = Signal()


def announce_risk_inputs_changed(sender: object, course_ids: list[int]) -> None:
    risk_inputs_changed.send(sender=sender, course_ids=course_ids)
