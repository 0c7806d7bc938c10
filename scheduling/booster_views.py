"""The psychiatrist's "Book a booster course" from the page of an ended course
(``course-booster``, ``/courses/<pk>/booster/``): the protocol (the seeded booster by
default), the first day (the next open clinic day by default) and the time wanted;
a preview of every session (``booster_book`` as a preview: the same run, rolled back);
then confirm, which prescribes, plans and books it in one transaction and lands on the
new course's page. The relapse list links here too."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from clinic.capabilities import Capability
from clinic.models import Chair
from clinic.opening_time import next_open_day
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from courses import course_plan, selectors
from courses.course_action_forms import BoosterForm
from courses.models import OPEN_STATUSES, Protocol, TreatmentCourse
from scheduling.accelerated import treatment_breaks
from scheduling.course_views import _carried, _conflict_rows, _preview_rows, _scoped_courses
from scheduling.services import BoosterBooking, booster_book


def _initial(course: TreatmentCourse, protocols: list[Protocol]) -> dict[str, Any]:
    clinic = course.patient.clinic
    tomorrow = clinic.today() + dt.timedelta(days=1)
    earliest = max(tomorrow, course_plan.ended_on(course) or tomorrow)
    protocol = protocols[0] if protocols else None
    chair = course.preferred_chair
    if chair is not None and (protocol is None or not chair.fits(protocol.coil)):
        chair = None
    return {
        "protocol": protocol.pk if protocol else None,
        "start_date": next_open_day(clinic, earliest) or earliest,
        "preferred_time": course.preferred_time,
        "preferred_chair": chair.pk if chair else None,
        "time_flex_minutes": 0,
    }


def _page(
    request: HttpRequest,
    course: TreatmentCourse,
    form: BoosterForm,
    protocols: list[Protocol],
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    open_course = (
        TreatmentCourse.objects.filter(patient_id=course.patient_id, status__in=OPEN_STATUSES)
        .exclude(pk=course.pk)
        .first()
    )
    context = {
        "course": course,
        "clinic": course.patient.clinic,
        "form": form,
        "ended": course.status not in OPEN_STATUSES,
        "open_course": open_course,
        "plans": [
            (protocol, ", then ".join(phase.in_words for phase in protocol.phases.all()))
            for protocol in protocols
        ],
        **extra,
    }
    return render(request, "scheduling/booster.html", context, status=status)


@staff_page(Capability.BOOK_BOOSTER)
def course_booster(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    clinic = course.patient.clinic
    protocols = selectors.booster_protocols(clinic.pk)
    if request.method != "POST":
        form = BoosterForm(initial=_initial(course, protocols), clinic=clinic, protocols=protocols)
        return _page(request, course, form, protocols)
    form = BoosterForm(request.POST, clinic=clinic, protocols=protocols)
    if not form.is_valid():
        return _page(request, course, form, protocols, status=400)
    confirm = request.POST.get("action") == "confirm"
    data = form.cleaned_data
    result, refusal = attempt(
        lambda: booster_book(
            course,
            by=request.user,
            protocol=data["protocol"],
            start_date=data["start_date"],
            preferred_time=data["preferred_time"],
            preferred_chair=data["preferred_chair"],
            time_flex_minutes=data["time_flex_minutes"],
            preview=not confirm,
        )
    )
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _page(
            request,
            course,
            form,
            protocols,
            status=refusal.status,
            conflict_rows=_conflict_rows(refusal),
        )
    booked = cast(BoosterBooking, result)
    sessions = booked.booking.sessions
    if confirm:
        messages.success(request, f"Booster course prescribed and {len(sessions)} sessions booked.")
        return redirect(reverse("course-detail", args=[booked.course.pk]))
    chairs = dict(Chair.objects.filter(clinic=clinic).values_list("id", "name"))
    return _page(
        request,
        course,
        form,
        protocols,
        preview=_preview_rows(booked.booking, chairs, form),
        booked_count=len(sessions),
        reused=booked.reused_threshold,
        carried=_carried(form),
        breaks=treatment_breaks(sessions, clinic.tz, data["protocol"].sessions_per_day),
    )
