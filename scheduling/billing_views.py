"""Superbill downloads: one patient's (PDF or CSV, from the patient page) and a
period's lines of every patient as one CSV (the billing page, clinic admins). Each
download is an ``export`` audit event (clinic.audit_trail: an attachment)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from clinic import dates
from clinic.capabilities import Capability
from clinic.models import Clinic, Patient
from clinic.web import Workplace, staff_page
from scheduling import superbill
from scheduling.superbill_pdf import render_pdf

TEMPLATE = "scheduling/billing.html"
PDF, CSV = "pdf", "csv"


class PeriodForm(forms.Form):
    """A billing period, clinic-local days, both included; by default the last full
    calendar month."""

    date_from = dates.DateFormField(
        label="From",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = dates.DateFormField(
        label="To",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    output = forms.ChoiceField(
        label="File", choices=[(PDF, "PDF"), (CSV, "CSV")], required=False, initial=PDF
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        problem = superbill.range_problem(cleaned["date_from"], cleaned["date_to"])
        if problem:
            raise forms.ValidationError(problem, code="bad_range")
        return cleaned


def download(body: bytes | str, content_type: str, filename: str) -> HttpResponse:
    return HttpResponse(
        body,
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def superbill_file(bill: superbill.Superbill, output: str) -> HttpResponse:
    """A patient's superbill as the file asked for (PDF unless CSV)."""
    name = f"superbill-{bill.patient.mrn}-{bill.date_from:%Y%m%d}-{bill.date_to:%Y%m%d}"
    name = "".join(char if char.isalnum() or char in "-_" else "_" for char in name)
    if output == CSV:
        return download(superbill.csv_text([bill]), "text/csv; charset=utf-8", f"{name}.csv")
    return download(render_pdf(bill), "application/pdf", f"{name}.pdf")


def export_file(clinic: Clinic, date_from: dt.date, date_to: dt.date) -> HttpResponse:
    bills = superbill.clinic_superbills(clinic, date_from, date_to)
    filename = f"cadence-billing-{clinic.slug}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.csv"
    return download(superbill.csv_text(bills), "text/csv; charset=utf-8", filename)


def _page(request: HttpRequest, place: Workplace, form: PeriodForm, status: int) -> HttpResponse:
    context = {"form": form, "can_export": place.can(Capability.EXPORT_BILLING)}
    return render(request, TEMPLATE, context, status=status)


@require_GET
@staff_page(Capability.PRINT_SUPERBILL)
def patient_superbill(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    patients = Patient.objects.select_related("clinic")
    patient = get_object_or_404(patients, pk=pk, clinic=place.clinic)
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return _page(request, place, form, 400)
    data = form.cleaned_data
    bill = superbill.patient_superbill(patient, data["date_from"], data["date_to"])
    return superbill_file(bill, data["output"] or PDF)


@require_GET
@staff_page(Capability.EXPORT_BILLING)
def billing_page(request: HttpRequest, place: Workplace) -> HttpResponse:
    """The period export's form (its CSV is :func:`billing_export`)."""
    first, last = superbill.default_period(place.clinic.today())
    return _page(request, place, PeriodForm(initial={"date_from": first, "date_to": last}), 200)


@require_GET
@staff_page(Capability.EXPORT_BILLING)
def billing_export(request: HttpRequest, place: Workplace) -> HttpResponse:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return _page(request, place, form, 400)
    return export_file(place.clinic, form.cleaned_data["date_from"], form.cleaned_data["date_to"])
