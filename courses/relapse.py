"""The relapse watch's writes and its rule (docs/relapse-watch.md).

- ``watch_enroll``: a completed acute course starts a watch, one point per day of the
  clinic's schedule (``Clinic.relapse_watch_days``);
- ``watch_answer``: the patient's PHQ-9 from a point's signed link becomes an assessment
  of the course with the source ``patient_reported`` (item 9 above 0 raises the safety
  flag and alerts the psychiatrist at once, as ``assessment_record`` does in the clinic),
  then the relapse rule is applied;
- ``relapse_rule``: a remitter's score reaching the clinic's threshold (10), or any
  score rising by the clinic's rise (5) above the course's last clinic-entered PHQ-9;
- ``relapse_close``: a psychiatrist closes a relapse entry, with a note.

The outbox (notifications) plans the links; the course page and the API show the list.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import Clinic
from courses import alerts
from courses.instruments import INSTRUMENTS, InstrumentCode
from courses.models import (
    Assessment,
    AssessmentSource,
    CourseType,
    Relapse,
    RelapseRule,
    RelapseWatch,
    TreatmentCourse,
    WatchPoint,
)

# A point's link works from its day until the end of this many days later.
LINK_DAYS = 14
PHQ9 = INSTRUMENTS[InstrumentCode.PHQ9]


def watch_enroll(course: TreatmentCourse) -> RelapseWatch | None:
    """Start the watch of a course that has just been completed: an acute course, in a
    clinic with the watch on. Called by ``course_transition`` in its transaction."""
    clinic = course.patient.clinic
    if course.type != CourseType.ACUTE or not clinic.relapse_watch or course.completed_on is None:
        return None
    days = clinic.relapse_watch_days(course.completed_on)
    if not days:
        return None
    watch, created = RelapseWatch.objects.get_or_create(
        course=course, defaults={"started_on": course.completed_on}
    )
    if created:
        for number, day in enumerate(days, 1):  # one by one: each is an audit event
            WatchPoint.objects.create(
                watch=watch, number=number, due_on=day, expires_on=day + dt.timedelta(LINK_DAYS)
            )
    return watch


def watches_stop(course: TreatmentCourse) -> int:
    """A new course of the patient has started (a booster, a second acute course): the
    watches of their earlier courses stop; links not yet sent are not sent (dispatch
    cancels them), and links sent answer that nothing is needed now."""
    return (
        RelapseWatch.objects.filter(course__patient_id=course.patient_id, active=True)
        .exclude(course=course)
        .update(active=False, stopped_reason=f"Course {course.pk} started.")
    )


class PointState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"
    NOT_YET = "not_yet"
    STOPPED = "stopped"


def point_state(point: WatchPoint, today: dt.date) -> PointState:
    """Whether a point's link may be answered on the clinic-local day ``today``."""
    if point.answered_at is not None:
        return PointState.ANSWERED
    if not point.watch.active:
        return PointState.STOPPED
    if today > point.expires_on:
        return PointState.EXPIRED
    if today < point.due_on:
        return PointState.NOT_YET
    return PointState.OPEN


def course_last_score(course_id: int) -> int | None:
    """The course's last PHQ-9 entered by the clinic: what the rule compares with."""
    latest = (
        Assessment.objects.filter(
            course_id=course_id, instrument=InstrumentCode.PHQ9, source=AssessmentSource.CLINIC
        )
        .order_by("-administered_on", "-id")
        .values_list("score", flat=True)
        .first()
    )
    return latest


def relapse_rule(score: int, baseline: int | None, clinic: Clinic) -> str | None:
    """Which branch of the clinic's relapse rule ``score`` meets (None: neither). A
    remitter is a patient whose last clinic score was in remission (PHQ-9 below 5)."""
    if baseline is None:
        return None
    reached = PHQ9.in_remission(baseline) and score >= clinic.relapse_remitter_score
    rose = score - baseline >= clinic.relapse_rise
    if reached and rose:
        return RelapseRule.BOTH
    if reached:
        return RelapseRule.REMITTER
    return RelapseRule.RISE if rose else None


class WatchAnswer(NamedTuple):
    assessment: Assessment
    relapse: Relapse | None
    safety_flag: bool


LINK_REFUSALS = {
    PointState.ANSWERED: ("This questionnaire has been answered already.", "link_used"),
    PointState.EXPIRED: ("This link has expired.", "link_expired"),
    PointState.NOT_YET: ("This link does not work yet.", "link_not_yet"),
    PointState.STOPPED: ("This questionnaire is no longer needed.", "link_stopped"),
}


@transaction.atomic
def watch_answer(point: WatchPoint, items: list[int]) -> WatchAnswer:
    """Record the patient's answers once (the point's row is locked: a second submit
    of the same link, even at the same moment, is refused with ``link_used``)."""
    from courses.services import assessment_record

    point = (
        WatchPoint.objects.select_for_update(of=("self",))
        .select_related("watch__course__patient__clinic")
        .get(pk=point.pk)
    )
    course = point.watch.course
    clinic = course.patient.clinic
    state = point_state(point, clinic.today())
    if state != PointState.OPEN:
        message, code = LINK_REFUSALS[state]
        raise Conflict(message, code=code)
    errors = PHQ9.item_errors(items)
    if errors:
        raise ValidationError({"items": [ValidationError(e, code="invalid") for e in errors]})
    assessment = assessment_record(
        course,
        instrument=InstrumentCode.PHQ9,
        administered_on=clinic.today(),
        by=None,
        items=items,
        source=AssessmentSource.PATIENT_REPORTED,
    )
    point.answered_at = timezone.now()
    point.assessment = assessment
    point.save(update_fields=["answered_at", "assessment"])
    relapse = _relapse_check(assessment, clinic)
    flagged = PHQ9.raises_safety_flag(assessment.suicide_item)
    return WatchAnswer(assessment, relapse, flagged)


def _relapse_check(assessment: Assessment, clinic: Clinic) -> Relapse | None:
    baseline = course_last_score(assessment.course_id)
    rule = relapse_rule(assessment.score, baseline, clinic)
    if rule is None or baseline is None:
        return None
    relapse = Relapse.objects.create(
        course=assessment.course,
        assessment=assessment,
        rule=rule,
        score=assessment.score,
        baseline=baseline,
        detected_at=timezone.now(),
    )
    alerts.raise_for_relapse(relapse)
    return relapse


@transaction.atomic
def relapse_close(relapse: Relapse, *, by: Any, note: str = "") -> Relapse:
    """Close an entry of the relapse list (idempotent: the first close is kept); its
    staff alert is settled with it."""
    Relapse.objects.filter(pk=relapse.pk, closed_at__isnull=True).update(
        closed_at=timezone.now(), closed_by=by, close_note=note.strip()[:300]
    )
    alerts.settle_relapse(relapse)
    relapse.refresh_from_db()
    return relapse
