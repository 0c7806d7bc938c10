"""The psychiatrist's changes to a course's plan on the course page: lengthen it or
switch its protocol. Each previews the re-planned sessions (the service's dry run,
so the preview is what confirming books) and says which bookings it replaces;
confirming re-plans all or nothing (scheduling.services.replan)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from clinic.capabilities import Capability
from clinic.models import Chair
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from courses import selectors
from courses.course_action_forms import LengthenForm, ReplanForm, SwitchProtocolForm
from courses.models import TreatmentCourse
from scheduling.course_views import _conflict_rows, _scoped_courses
from scheduling.risk import UNDER_WAY
from scheduling.services import Replan, course_lengthen, course_switch_protocol


def _page(
    request: HttpRequest,
    course: TreatmentCourse,
    action: str,
    form: ReplanForm,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "course": course,
        "clinic": course.patient.clinic,
        "action": action,
        "form": form,
        "allowed": course.status in UNDER_WAY,
        **extra,
    }
    return render(request, "courses/course_plan_change.html", context, status=status)


def _change(
    request: HttpRequest,
    course: TreatmentCourse,
    action: str,
    form: ReplanForm,
    run: Callable[[bool], Replan],
    **extra: Any,
) -> HttpResponse:
    if request.method != "POST":
        return _page(request, course, action, form, **extra)
    if not form.is_valid():
        return _page(request, course, action, form, status=400, **extra)
    confirm = bool(request.POST.get("confirm"))
    result, refusal = attempt(lambda: run(not confirm))
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _page(
            request,
            course,
            action,
            form,
            status=refusal.status,
            conflict_rows=_conflict_rows(refusal),
            **extra,
        )
    replan = cast(Replan, result)
    if confirm:
        messages.success(request, f"{replan.change.in_words}.")
        return redirect(reverse("course-detail", args=[course.pk]) + "#plan-changes")
    chairs = dict(Chair.objects.filter(clinic=course.patient.clinic).values_list("id", "name"))
    return _page(
        request,
        course,
        action,
        form,
        previewed=replan,
        booked_rows=[(s, chairs.get(s.chair_id, "")) for s in replan.booked],
        released_rows=[(s, chairs.get(s.chair_id, "")) for s in replan.released],
        **extra,
    )


def _initial(course: TreatmentCourse) -> dict[str, Any]:
    return {"from_date": max(course.patient.clinic.today(), course.start_date)}


@staff_page(Capability.PRESCRIBE)
def course_lengthen_page(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    posted = request.POST if request.method == "POST" else None
    form = LengthenForm(posted, initial=_initial(course))

    def run(dry_run: bool) -> Replan:
        data = form.cleaned_data
        return course_lengthen(
            course,
            by=request.user,
            sessions=data["sessions"],
            reason=data["reason"],
            from_date=data["from_date"],
            dry_run=dry_run,
        )

    return _change(request, course, "lengthen", form, run)


@staff_page(Capability.PRESCRIBE)
def course_switch_protocol_page(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    protocols = selectors.bookable_protocols(course.patient.clinic_id).exclude(
        pk=course.protocol_id
    )
    posted = request.POST if request.method == "POST" else None
    form = SwitchProtocolForm(posted, initial=_initial(course), protocols=protocols)

    def run(dry_run: bool) -> Replan:
        data = form.cleaned_data
        return course_switch_protocol(
            course,
            by=request.user,
            protocol=data["protocol"],
            reason=data["reason"],
            from_date=data["from_date"],
            dry_run=dry_run,
        )

    plans = [
        (protocol, ", then ".join(phase.in_words for phase in protocol.phases.all()))
        for protocol in protocols
    ]
    return _change(request, course, "switch", form, run, plans=plans)
