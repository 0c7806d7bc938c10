"""Registering a patient and changing their details, on a staff page. The patient list
(it filters by courses) is courses'; the patient page (it shows sessions and messages)
is notifications' (docs/architecture.md)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from clinic import selectors, services
from clinic.capabilities import Capability
from clinic.models import Patient
from clinic.patient_forms import PatientForm
from clinic.web import Workplace, attempt, refusal_on_form, staff_page


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.EDIT_PATIENTS)
def patient_register(request: HttpRequest, place: Workplace) -> HttpResponse:
    return _patient_form(request, place, Patient(clinic=place.clinic))


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.EDIT_PATIENTS)
def patient_edit(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk, clinic=place.clinic)
    return _patient_form(request, place, patient)


def _patient_form(request: HttpRequest, place: Workplace, patient: Patient) -> HttpResponse:
    is_new = patient.pk is None
    form = PatientForm(request.POST or None, instance=patient)
    duplicates: list[Patient] = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            duplicates = list(
                selectors.patient_duplicates(
                    place.clinic,
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    date_of_birth=data["date_of_birth"],
                    phone=data["phone"],
                    exclude=patient.pk,
                )
            )
            if not duplicates or data["save_anyway"]:
                fields = form.patient_fields() | form.consent()
                if is_new:
                    fields["clinic"] = place.clinic
                saved, refusal = attempt(
                    lambda: services.patient_save(
                        None if is_new else patient, by=request.user, **fields
                    )
                )
                if saved is not None:
                    verb = "Registered" if is_new else "Saved"
                    messages.success(request, f"{verb} {saved.first_name} {saved.last_name}.")
                    return redirect(reverse("patient-detail", args=[saved.pk]))
                if refusal is not None:
                    refusal_on_form(form, refusal)
                    status = refusal.status
                duplicates = []
        else:
            status = 400
    return render(
        request,
        "clinic/patients/form.html",
        {
            "form": form,
            "patient": patient,
            "is_new": is_new,
            "duplicates": duplicates,
            "clinic": place.clinic,
        },
        status=status,
    )
