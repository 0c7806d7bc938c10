"""Reads for the closures page: the sessions a closure hits, and where a re-booking
took them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from clinic.models import Chair, Clinic, Closure
from scheduling.calendar import day_bounds
from scheduling.models import Session, SessionStatus
from scheduling.selectors import patient_board_name


def _hits(clinic: Clinic, days: list[dt.date]) -> QuerySet[Session]:
    """Scheduled sessions on clinic-local ``days``: the ones ``closure_rebook`` moves."""
    on_days = Q()
    for day in days:
        start, end = day_bounds(day, clinic.tz)
        on_days |= Q(starts_at__gte=start, starts_at__lt=end)
    return (
        Session.objects.filter(on_days, chair__clinic=clinic, status=SessionStatus.SCHEDULED)
        .select_related("patient", "chair")
        .only(
            "id",
            "starts_at",
            "ends_at",
            "course_id",
            "patient__first_name",
            "patient__last_name",
            "chair__name",
        )
        .order_by("starts_at", "chair__name", "id")
    )


def sessions_by_id(clinic: Clinic, ids: list[int]) -> list[dict[str, Any]]:
    """Sessions of the clinic named by a refusal, for the page to list (one query)."""
    if not ids:
        return []
    sessions = (
        Session.objects.filter(pk__in=ids, chair__clinic=clinic)
        .select_related("patient", "chair")
        .order_by("starts_at", "id")
    )
    return [_hit(session) for session in sessions]


def closure_hits(clinic: Clinic, day: dt.date) -> list[dict[str, Any]]:
    """The sessions a closure of ``day`` hits (one query)."""
    return [_hit(session) for session in _hits(clinic, [day])]


def upcoming_closures(clinic: Clinic, today: dt.date) -> list[dict[str, Any]]:
    """Closures from ``today`` on, each with the scheduled sessions it still hits: two
    queries whatever the number."""
    closures = list(Closure.objects.filter(clinic=clinic, date__gte=today).order_by("date"))
    hits: dict[dt.date, list[dict[str, Any]]] = {closure.date: [] for closure in closures}
    if closures:
        for session in _hits(clinic, list(hits)):
            hits[session.starts_at.astimezone(clinic.tz).date()].append(_hit(session))
    return [
        {
            "id": closure.pk,
            "date": closure.date,
            "reason": closure.reason,
            "sessions": hits[closure.date],
        }
        for closure in closures
    ]


def _hit(session: Session) -> dict[str, Any]:
    return {
        "id": session.pk,
        "course_id": session.course_id,
        "starts_at": session.starts_at,
        "patient_name": patient_board_name(session.patient.first_name, session.patient.last_name),
        "chair_name": session.chair.name,
    }


def rebook_summary(
    clinic: Clinic, hit: list[dict[str, Any]], moved: list[Session]
) -> list[dict[str, Any]]:
    """Where each session a closure hit went after ``closure_rebook``: its new time and
    chair, or, for a course not yet started (planned again as a whole), the course's new
    first session. One query (chair names)."""
    chair_names = dict(Chair.objects.filter(clinic=clinic).values_list("id", "name"))
    moved_by_id = {session.pk: session for session in moved}
    first_of_course: dict[int, Session] = {}
    for session in sorted(moved, key=lambda s: s.starts_at):
        first_of_course.setdefault(session.course_id, session)
    rows = []
    for entry in hit:
        same = moved_by_id.get(entry["id"])
        new = same or first_of_course.get(entry["course_id"])
        rows.append(
            {
                **entry,
                "replanned": same is None and new is not None,
                "new_starts_at": new.starts_at if new else None,
                "new_chair_name": chair_names.get(new.chair_id, "") if new else "",
            }
        )
    return rows
