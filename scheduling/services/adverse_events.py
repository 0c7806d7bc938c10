"""Adverse events recorded with a session: raising one (it alerts the psychiatrist and
holds the course), the hold itself, and the psychiatrist's decision that lifts it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import Conflict
from courses import alerts
from courses import services as course_services
from courses.models import OPEN_STATUSES, CourseStatus, TreatmentCourse
from scheduling.adverse_events import adverse_event_kind, course_on_hold
from scheduling.models import (
    AdverseEvent,
    AdverseEventKind,
    ReviewDecision,
    Session,
    SideEffect,
    TreatmentRecord,
)
from scheduling.risk import recompute_risk


def require_no_review_hold(course_id: int) -> None:
    """Refuse (409 ``needs_review``) while an adverse event of the course waits for a
    psychiatrist's decision."""
    if course_on_hold(course_id):
        raise Conflict(
            "This course is on hold after an adverse event: a psychiatrist must record a "
            "decision on the course page before its next session can go ahead.",
            code="needs_review",
        )


def _description(record: TreatmentRecord, kind: str) -> str:
    """The record's other side effects and its free text (the kind says the rest)."""
    labels = [SideEffect(effect).label for effect in record.side_effects if effect != kind]
    parts = [", ".join(labels)] if labels else []
    if record.side_effects_other:
        parts.append(record.side_effects_other)
    return "; ".join(parts)[:300]


def save_record(session: Session, record: TreatmentRecord, *, by: Any) -> AdverseEvent | None:
    """Save a completed session's treatment record. One that reports an adverse event
    (scheduling.adverse_events) is marked so, and raises the event: the course is held
    and its psychiatrist alerted at once."""
    kind = adverse_event_kind(record.side_effects, record.adverse_event)
    record.session = session
    record.adverse_event = kind is not None
    record.save()
    if kind is None:
        return None
    event = AdverseEvent.objects.create(
        course_id=session.course_id,
        session=session,
        kind=kind,
        description=_description(record, kind),
        raised_at=timezone.now(),
        raised_by=by,
    )
    course = session.course
    alerts.raise_for_adverse_event(
        course,
        event.pk,
        AdverseEventKind(kind).label,
        session.starts_at.astimezone(course.patient.clinic.tz).date(),
    )
    return event


@transaction.atomic
def adverse_event_review(
    event: AdverseEvent, *, decision: str, note: str = "", by: Any
) -> AdverseEvent:
    """A psychiatrist's decision on an adverse event: it settles the event's alert and
    lifts the hold; ``discontinue`` also discontinues the course (course_transition).
    A decision is recorded once (409 ``already_reviewed``)."""
    if decision not in ReviewDecision.values:
        raise ValidationError(
            {"decision": "Choose continue, continue_changed or discontinue."},
            code="invalid_choice",
        )
    note = note.strip()
    if decision == ReviewDecision.CONTINUE_CHANGED and not note:
        raise ValidationError({"note": "Say which treatment parameters change."}, code="required")
    course = TreatmentCourse.objects.select_for_update(of=("self",)).get(pk=event.course_id)
    event = AdverseEvent.objects.select_for_update(of=("self",)).get(pk=event.pk)
    if event.reviewed_at is not None:
        raise Conflict(
            "A decision on this adverse event is already recorded.", code="already_reviewed"
        )
    event.decision = decision
    event.decision_note = note
    event.reviewed_at = timezone.now()
    event.reviewed_by = by
    event.full_clean(exclude=["course", "session", "raised_by"], validate_unique=False)
    event.save(update_fields=["decision", "decision_note", "reviewed_at", "reviewed_by"])
    alerts.settle_adverse_event(event.pk)
    if decision == ReviewDecision.DISCONTINUE and course.status in OPEN_STATUSES:
        reason = f"Adverse event ({event.get_kind_display().lower()})"
        course_services.course_transition(
            course,
            CourseStatus.DISCONTINUED,
            by=by,
            reason=f"{reason}: {note}" if note else reason,
        )
    recompute_risk([course.pk])
    return event
