"""Adverse events: what counts as one, and the reads about them (the hold they put on a
course, a course's list). The writes are in ``scheduling.services.adverse_events``.

One rule, here only: a treatment record reports an adverse event when its
``adverse_event`` box is ticked or a seizure or a faint (syncope) is among its side
effects; those two are adverse events whatever the box says. An event without a
psychiatrist's decision holds its course: the course's sessions can still be booked and
moved, but not checked in or completed, and the board says "Needs psychiatrist review".
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from scheduling.models import AdverseEvent, AdverseEventKind, Session, SideEffect

# The side effects that are adverse events by themselves, most serious first.
SERIOUS_SIDE_EFFECTS: dict[str, str] = {
    SideEffect.SEIZURE: AdverseEventKind.SEIZURE,
    SideEffect.SYNCOPE: AdverseEventKind.SYNCOPE,
}


def adverse_event_kind(side_effects: Iterable[str], flagged: bool) -> str | None:
    """The kind of adverse event a treatment record reports, or None: the most serious
    of its side effects that is one by itself, else ``other`` when the box is ticked."""
    listed = set(side_effects)
    for side_effect, kind in SERIOUS_SIDE_EFFECTS.items():
        if side_effect in listed:
            return kind
    return AdverseEventKind.OTHER if flagged else None


def pending_review() -> QuerySet[AdverseEvent]:
    """Events no psychiatrist has decided on yet: each holds its course."""
    return AdverseEvent.objects.filter(reviewed_at__isnull=True)


def course_on_hold(course_id: int) -> bool:
    return pending_review().filter(course_id=course_id).exists()


def with_review_hold(sessions: QuerySet[Session]) -> QuerySet[Session]:
    """Annotate ``course_on_hold``: the session's course waits for a psychiatrist's
    decision on an adverse event (a subquery: no query of its own)."""
    return sessions.annotate(
        course_on_hold=Exists(pending_review().filter(course_id=OuterRef("course_id")))
    )


def course_adverse_events(course_id: int) -> list[AdverseEvent]:
    """A course's adverse events, newest first, with their session and reviewer."""
    return list(
        AdverseEvent.objects.filter(course_id=course_id).select_related(
            "session", "reviewed_by", "raised_by"
        )
    )
