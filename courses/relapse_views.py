"""The relapse watch on the staff pages (docs/relapse-watch.md): the course page's
relapse list and watch (for whoever sees scores), the dashboard's open entries, and a
psychiatrist closing an entry. Each entry links to the course's booster action."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from clinic.capabilities import Capability
from clinic.web import Workplace, staff_page
from courses import relapse, relapse_selectors
from courses.models import TreatmentCourse


def _entries(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {"row": row, "booster_url": relapse_selectors.booster_url(row.course_id)} for row in rows
    ]


def relapse_context(place: Workplace, course: TreatmentCourse) -> dict[str, Any]:
    """The course page's relapse list and watch (two queries, three with a watch)."""
    if not place.can(Capability.READ_SCORES):
        return {"relapses": [], "relapse_watch": None}
    watch = relapse_selectors.watch_of(course)
    today = course.patient.clinic.today()
    return {
        "relapses": _entries(relapse_selectors.course_relapses(course.pk)),
        "relapse_watch": watch,
        "relapse_points": [
            {"point": point, "state": relapse.point_state(point, today)}
            for point in (watch.points.all() if watch else [])
        ],
        "can_close_relapses": place.can(Capability.CLOSE_RELAPSES),
    }


def relapse_dashboard_context(place: Workplace, user: Any, *, own_only: bool) -> dict[str, Any]:
    """The dashboard's open relapse entries (the viewer's courses only, unless they
    oversee all of them): one query."""
    if not place.can(Capability.READ_SCORES):
        return {"open_relapses": None}
    rows = relapse_selectors.open_relapses(place.clinic.pk, user if own_only else None)
    return {"open_relapses": _entries(rows)}


@staff_page(Capability.CLOSE_RELAPSES)
@require_POST
def relapse_close(request: HttpRequest, place: Workplace, pk: int, relapse_id: int) -> HttpResponse:
    rows = relapse_selectors.relapses().filter(course_id=pk)
    if place.role is not None:
        rows = rows.filter(course__patient__clinic=place.clinic)
    entry = get_object_or_404(rows, pk=relapse_id)
    relapse.relapse_close(entry, by=request.user, note=request.POST.get("note", ""))
    patient = entry.course.patient
    messages.success(request, f"Relapse entry of {patient.first_name} {patient.last_name} closed.")
    return redirect(reverse("course-detail", args=[pk]) + "#relapses")
