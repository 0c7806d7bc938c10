"""Book every session of a course already prescribed (``course-schedule``): the front
desk's step after a psychiatrist's "Prescribe". A preview first (the real booking as a
dry run, ``course_schedule_booking``), then confirm: what the API's
``POST /courses/{id}/schedule/`` does."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from clinic.capabilities import Capability
from clinic.models import Chair
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from courses.forms import TIME_FLEX_CHOICES
from courses.models import TreatmentCourse
from scheduling import services as scheduling_services
from scheduling.accelerated import treatment_breaks
from scheduling.course_views import _conflict_rows, _scoped_courses
from scheduling.services.booking import CourseBooking


class ScheduleForm(forms.Form):
    time_flex_minutes = forms.TypedChoiceField(
        label="Time flexibility", choices=TIME_FLEX_CHOICES, coerce=int, initial=0
    )


def _page(
    request: HttpRequest,
    course: TreatmentCourse,
    form: ScheduleForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {"course": course, "clinic": course.patient.clinic, "form": form, **extra}
    return render(request, "courses/course_schedule.html", context, status=status)


@staff_page(Capability.BOOK_SESSIONS)
def course_schedule(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    if request.method != "POST":
        return _page(request, course, ScheduleForm())
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _page(request, course, form, status=400)
    confirm = request.POST.get("action") == "confirm"
    booked, refusal = attempt(
        lambda: scheduling_services.course_schedule_booking(
            course, time_flex_minutes=form.cleaned_data["time_flex_minutes"], dry_run=not confirm
        )
    )
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _page(
            request, course, form, status=refusal.status, conflict_rows=_conflict_rows(refusal)
        )
    booking = cast(CourseBooking, booked)
    if confirm:
        pending = sum(1 for session in booking.sessions if session.pending_authorization)
        messages.success(
            request,
            f"Course booked: {len(booking.sessions)} sessions."
            + (f" {pending} of them are pending authorization." if pending else ""),
        )
        return redirect(reverse("course-detail", args=[course.pk]))
    chairs = dict(Chair.objects.filter(clinic=course.patient.clinic).values_list("id", "name"))
    outside = {entry.placement.starts_at: entry for entry in booking.outside_authorization}
    rows = [
        {
            "session": session,
            "chair": chairs.get(session.chair_id, ""),
            "outside": outside[session.starts_at].detail if session.starts_at in outside else "",
        }
        for session in sorted(booking.sessions, key=lambda s: s.starts_at)
    ]
    unbooked = [entry for entry in booking.outside_authorization if not entry.booked]
    return _page(
        request,
        course,
        form,
        rows=rows,
        unbooked=unbooked,
        breaks=treatment_breaks(
            booking.sessions, course.patient.clinic.tz, course.protocol.sessions_per_day
        ),
    )
