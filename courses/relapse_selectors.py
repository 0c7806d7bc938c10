"""Reads of the relapse watch (docs/relapse-watch.md): a course's watch with its points,
and the relapse list of a course, of a clinic or of one psychiatrist's courses."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from courses.models import Relapse, RelapseWatch, TreatmentCourse


def watch_of(course: TreatmentCourse) -> RelapseWatch | None:
    """The course's watch, its points and their answers: two queries."""
    return (
        RelapseWatch.objects.filter(course=course)
        .select_related("course__patient__clinic")
        .prefetch_related("points__assessment")
        .first()
    )


def relapses() -> QuerySet[Relapse]:
    return Relapse.objects.select_related("course__patient", "assessment").order_by(
        "-detected_at", "-id"
    )


def course_relapses(course_id: int) -> list[Relapse]:
    """A course's relapse entries, open ones first, newest first within each."""
    rows = list(relapses().filter(course_id=course_id))
    return sorted(rows, key=lambda row: row.closed_at is not None)


def open_relapses(clinic_id: int, psychiatrist: Any | None = None) -> list[Relapse]:
    """The open entries of a clinic (of ``psychiatrist``'s courses only, when given)."""
    rows = relapses().filter(course__patient__clinic_id=clinic_id, closed_at__isnull=True)
    if psychiatrist is not None:
        rows = rows.filter(course__psychiatrist=psychiatrist)
    return list(rows)


def booster_url(course_id: int) -> str:
    """The course page's booster action (the ``course-booster`` page): a booster course
    previewed, then prescribed, planned and booked in one action. Its path when the
    page's route is not (yet) in this installation's URLconf."""
    try:
        return reverse("course-booster", args=[course_id])
    except NoReverseMatch:
        return f"/courses/{course_id}/booster/"
