"""Book one extra session of a patient's open course from the patient's page (the
whole course is booked on the booking page), or a motor threshold re-determination.
The rules are session_book's, the same as ``POST /api/v1/sessions/`` and
``POST /api/v1/courses/{id}/redetermination/``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from clinic import dates
from clinic.capabilities import Capability
from clinic.models import Chair, Clinic, Patient
from clinic.web import Workplace, attempt, staff_page
from courses.models import OPEN_STATUSES, TreatmentCourse
from scheduling import services
from scheduling.models import SessionKind


class ExtraSessionForm(forms.Form):
    course = forms.ModelChoiceField(queryset=TreatmentCourse.objects.none(), empty_label=None)
    date = dates.DateFormField(input_formats=["%Y-%m-%d"])
    time = forms.TimeField(input_formats=["%H:%M"])
    chair = forms.ModelChoiceField(
        queryset=Chair.objects.none(), required=False, empty_label="Any free chair"
    )

    def __init__(self, *args: Any, patient: Patient, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["course"].queryset = TreatmentCourse.objects.filter(  # type: ignore[attr-defined]
            patient=patient, status__in=OPEN_STATUSES
        )
        self.fields["chair"].queryset = Chair.objects.filter(  # type: ignore[attr-defined]
            clinic=clinic, active=True
        )

    def starts_at(self) -> dt.datetime:
        """The typed wall-clock time in the clinic's zone."""
        local = dt.datetime.combine(self.cleaned_data["date"], self.cleaned_data["time"])
        return local.replace(tzinfo=self.clinic.tz)


def _book(request: HttpRequest, place: Workplace, pk: int, kind: str, what: str) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk, clinic=place.clinic)
    form = ExtraSessionForm(request.POST, patient=patient, clinic=place.clinic)
    back = reverse("patient-detail", args=[patient.pk])
    if not form.is_valid():
        messages.error(
            request,
            "Not booked: "
            + " ".join(str(error) for errors in form.errors.values() for error in errors),
        )
        return redirect(back)
    starts_at = form.starts_at()
    session, refusal = attempt(
        lambda: services.session_book(
            form.cleaned_data["course"],
            starts_at=starts_at,
            chair=form.cleaned_data["chair"],
            kind=kind,
        )
    )
    if refusal is not None:
        messages.error(request, f"Not booked: {refusal.message}")
    elif session is not None:
        local = session.starts_at.astimezone(place.clinic.tz)
        messages.success(
            request, f"Booked {what} at {local:%H:%M} on {local:%a} {local.day} {local:%b}."
        )
    return redirect(back)


@require_POST
@staff_page(Capability.BOOK_SESSIONS)
def patient_session_book(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    return _book(request, place, pk, SessionKind.TREATMENT, "a session")


@require_POST
@staff_page(Capability.BOOK_REDETERMINATION)
def patient_remap_book(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """A motor threshold re-determination (CPT 90869): the rules in scheduling.billing."""
    return _book(request, place, pk, SessionKind.REMAP, "a motor threshold re-determination")
