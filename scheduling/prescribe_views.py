"""The psychiatrist's prescribing page (``course-prescribe``): a course for one patient,
with its protocol (each protocol's plan in words), indication, primary instrument,
start, preferred time and chair, and an optional authorization. "Prescribe" creates
the course for the front desk to book; "Prescribe and book now" previews the booking
with the booking page's service (``course_book`` as a dry run) and books it on
confirmation."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from clinic.capabilities import Capability
from clinic.models import Chair, Patient
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from courses import selectors, services
from courses.models import TreatmentCourse
from courses.prescribe_forms import PrescribeForm
from scheduling import services as scheduling_services
from scheduling.accelerated import treatment_breaks
from scheduling.course_views import _carried, _conflict_rows, _preview_rows
from scheduling.services.booking import CourseBooking


def _protocol_plans(clinic_id: int) -> list[dict[str, Any]]:
    """Every protocol the clinic may prescribe, with its plan in words."""
    return [
        {
            "protocol": protocol,
            "plan": ", then ".join(phase.in_words for phase in protocol.phases.all()),
            "sessions": selectors.sessions_total(protocol),
        }
        for protocol in selectors.bookable_protocols(clinic_id)
    ]


def _page(
    request: HttpRequest,
    place: Workplace,
    form: PrescribeForm,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "form": form,
        "patient": form.for_patient,
        "clinic": form.for_patient.clinic,
        "screening": selectors.latest_screening(form.for_patient),
        "plans": _protocol_plans(form.for_patient.clinic_id),
        **extra,
    }
    return render(request, "courses/prescribe.html", context, status=status)


@staff_page(Capability.PRESCRIBE)
def course_prescribe(request: HttpRequest, place: Workplace) -> HttpResponse:
    patient_id = request.GET.get("patient", "")
    if not patient_id.isdigit():
        raise Http404("Choose a patient.")
    patients = Patient.objects.select_related("clinic")
    if place.role is not None:
        patients = patients.filter(clinic=place.clinic)
    patient = get_object_or_404(patients, pk=int(patient_id))
    clinic = patient.clinic
    if request.method != "POST":
        form = PrescribeForm(
            initial={"start_date": clinic.today() + dt.timedelta(days=1), "time_flex_minutes": 0},
            clinic=clinic,
            patient=patient,
            psychiatrist=request.user,
        )
        return _page(request, place, form)
    form = PrescribeForm(request.POST, clinic=clinic, patient=patient, psychiatrist=request.user)
    if not form.is_valid():
        return _page(request, place, form, status=400)
    action = request.POST.get("action", "prescribe")
    if action == "prescribe":
        created, refusal = attempt(lambda: services.course_create(**form.booking_fields()))
        if refusal is None:
            course = cast(TreatmentCourse, created)
            messages.success(
                request, "Course prescribed. The front desk books its sessions from here."
            )
            return redirect(reverse("course-detail", args=[course.pk]))
    else:
        confirm = action == "book_confirm"
        booked, refusal = attempt(
            lambda: scheduling_services.course_book(
                time_flex_minutes=form.cleaned_data["time_flex_minutes"],
                dry_run=not confirm,
                **form.booking_fields(),
            )
        )
        if refusal is None:
            course, booking = cast(tuple[TreatmentCourse, CourseBooking], booked)
            if confirm:
                messages.success(
                    request, f"Course prescribed and {len(booking.sessions)} sessions booked."
                )
                return redirect(reverse("course-detail", args=[course.pk]))
            chairs = dict(Chair.objects.filter(clinic=clinic).values_list("id", "name"))
            return _page(
                request,
                place,
                form,
                preview=_preview_rows(booking, chairs, form),
                booked_count=len(booking.sessions),
                carried=_carried(form),
                breaks=treatment_breaks(
                    booking.sessions, clinic.tz, course.protocol.sessions_per_day
                ),
            )
    refusal_on_form(form, refusal)
    return _page(request, place, form, status=refusal.status, conflict_rows=_conflict_rows(refusal))
