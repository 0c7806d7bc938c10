"""Reads for the scheduling app: the day board, availability, progress."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum

from clinic.models import Chair, Clinic
from courses.models import ProtocolPhase, TreatmentCourse
from courses.risk import load_facts, progress
from scheduling.calendar import day_bounds, load_calendar
from scheduling.models import Session


def sessions_on_day(
    queryset: QuerySet[Session], clinics: list[Clinic], day: dt.date
) -> QuerySet[Session]:
    """Sessions starting on a clinic-local date (each clinic in its own time zone)."""
    condition = Q()
    for clinic in clinics:
        start, end = day_bounds(day, clinic.tz)
        condition |= Q(chair__clinic=clinic, starts_at__gte=start, starts_at__lt=end)
    return queryset.filter(condition) if clinics else queryset.none()


def _with_course_totals(queryset: QuerySet[Session]) -> QuerySet[Session]:
    total = (
        ProtocolPhase.objects.filter(protocol=OuterRef("course__protocol"))
        .values("protocol")
        .annotate(total=Sum("sessions"))
        .values("total")
    )
    return queryset.annotate(sessions_total=Subquery(total))


def patient_board_name(first_name: str, last_name: str) -> str:
    """First name and last initial: enough to greet the right person, little to leak
    on a screen the waiting room might see."""
    return f"{first_name} {last_name[:1]}." if last_name else first_name


def board_for_day(clinic: Clinic, day: dt.date) -> dict[str, Any]:
    """Chairs with the day's sessions: two queries whatever the size of the day."""
    start, end = day_bounds(day, clinic.tz)
    sessions = list(
        _with_course_totals(
            Session.objects.filter(
                chair__clinic=clinic, starts_at__gte=start, starts_at__lt=end
            ).with_sequence()
        )
        .select_related("patient", "course")
        .only(
            "id",
            "chair_id",
            "starts_at",
            "ends_at",
            "status",
            "kind",
            "patient__first_name",
            "patient__last_name",
            "course__risk_level",
        )
        .order_by("starts_at", "id")
    )
    used_chairs = {session.chair_id for session in sessions}
    chairs = list(
        Chair.objects.filter(Q(active=True) | Q(id__in=used_chairs), clinic=clinic).order_by(
            "name", "id"
        )
    )
    by_chair: dict[int, list[dict[str, Any]]] = {chair.pk: [] for chair in chairs}
    for session in sessions:
        by_chair[session.chair_id].append(
            {
                "id": session.pk,
                "starts_at": session.starts_at,
                "ends_at": session.ends_at,
                "status": session.status,
                "kind": session.kind,
                "patient": {
                    "id": session.patient_id,
                    "name": patient_board_name(
                        session.patient.first_name, session.patient.last_name
                    ),
                },
                "course": {
                    "id": session.course_id,
                    "sequence": session.sequence,  # type: ignore[attr-defined]
                    "sessions_total": session.sessions_total,  # type: ignore[attr-defined]
                    "risk_level": session.course.risk_level,
                },
            }
        )
    return {
        "date": day,
        "clinic": clinic.pk,
        "chairs": [
            {
                "id": chair.pk,
                "name": chair.name,
                "active": chair.active,
                "sessions": by_chair[chair.pk],
            }
            for chair in chairs
        ],
    }


def availability(clinic: Clinic, day: dt.date, minutes: int) -> dict[str, Any]:
    calendar = load_calendar(clinic, day, day)
    return {
        "date": day,
        "minutes": minutes,
        "chairs": [
            {
                "chair": chair.pk,
                "name": chair.name,
                "free": [
                    {"starts_at": start, "ends_at": end}
                    for start, end in calendar.free_intervals(chair.pk, day, minutes)
                ],
            }
            for chair in calendar.chairs
        ],
    }


def course_progress(course: TreatmentCourse) -> dict[str, Any]:
    facts = load_facts([course.pk])[0]
    result = progress(facts)
    outcome = result.outcome

    def point(score: Any) -> dict[str, Any] | None:
        return (
            None
            if score is None
            else {"score": score.score, "administered_on": score.administered_on}
        )

    return {
        "sessions_total": result.sessions_total,
        "completed": result.completed,
        "missed": result.missed,
        "cancelled": result.cancelled,
        "scheduled": result.scheduled,
        "remaining": result.remaining,
        "unscheduled": result.unscheduled,
        "next_session_at": result.next_session_at,
        "first_session_date": result.first_session_date,
        "projected_end_date": result.projected_end_date,
        "window_end_date": result.window_end_date,
        "authorization_remaining": result.authorization_remaining,
        "instrument": outcome.instrument,
        "baseline": point(outcome.baseline),
        "latest": point(outcome.latest),
        "response": outcome.response,
        "remission": outcome.remission,
        "risk": {
            "level": result.level,
            "reasons": [reason.code for reason in result.reasons],
            "details": [
                {"code": reason.code, "level": reason.level, "detail": reason.detail}
                for reason in result.reasons
            ],
        },
    }
