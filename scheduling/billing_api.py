"""The billing API: a patient's superbill (``GET /api/v1/patients/{id}/superbill/``,
PDF or CSV) and a period's lines of every patient of a clinic as one CSV
(``GET /api/v1/billing/export/``). The files are the pages' (scheduling.billing_views);
errors are JSON with a code, as everywhere in the API."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from clinic import access, dates
from clinic.api_common import ErrorSerializer, ValidationErrorSerializer
from clinic.capabilities import Capability
from clinic.models import Patient
from clinic.serializers import clinic_field
from scheduling import superbill
from scheduling.billing_views import CSV, PDF, export_file, superbill_file

PERIOD_PARAMETERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, required=True, description="First day."),
    OpenApiParameter(
        "date_to", OpenApiTypes.DATE, required=True, description="Last day (at most 366 days)."
    ),
]
ERRORS = {
    400: OpenApiResponse(
        ValidationErrorSerializer, description="Bad dates or parameters: see `errors`."
    ),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="The role may not download billing files."),
    404: OpenApiResponse(ErrorSerializer, description="No such patient in your clinics."),
}


class PeriodSerializer(serializers.Serializer):
    date_from = dates.DateField()
    date_to = dates.DateField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problem = superbill.range_problem(attrs["date_from"], attrs["date_to"])
        if problem:
            raise serializers.ValidationError({"date_to": [problem]}, code="bad_range")
        return attrs


class SuperbillQuerySerializer(PeriodSerializer):
    output = serializers.ChoiceField(choices=[PDF, CSV], default=PDF)


class ExportQuerySerializer(PeriodSerializer):
    clinic = clinic_field()


class FileView(APIView):
    """A view whose success is a file: its answer is not negotiated (an ``Accept`` of
    application/pdf is fine), its errors are JSON."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


class SuperbillView(FileView):
    @extend_schema(
        operation_id="patient_superbill",
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter("output", str, enum=[PDF, CSV], description="Default pdf."),
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "The superbill."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, "One row per line."),
            **ERRORS,
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        """A patient's superbill for a period: the clinic's NPI and tax id, the patient,
        each course's ICD-10 diagnosis and provider, and each date of service with its
        CPT code and units (front desk and clinic admins)."""
        allowed = access.clinic_ids(request.user)
        patients = Patient.objects.select_related("clinic")
        if allowed is not None:
            patients = patients.filter(clinic_id__in=allowed)
        patient = get_object_or_404(patients, pk=pk)
        if not access.has_capability(request.user, patient.clinic_id, Capability.PRINT_SUPERBILL):
            raise exceptions.PermissionDenied("Your role in this clinic may not print superbills.")
        query = SuperbillQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        bill = superbill.patient_superbill(patient, data["date_from"], data["date_to"])
        return superbill_file(bill, data["output"])


class BillingExportView(FileView):
    @extend_schema(
        operation_id="billing_export",
        parameters=[OpenApiParameter("clinic", int, required=True), *PERIOD_PARAMETERS],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, "Every patient's lines, one row per code and date."
            ),
            **{code: ERRORS[code] for code in (400, 401, 403)},
        },
    )
    def get(self, request: Request) -> HttpResponse:
        """A period's billing lines of every patient of a clinic, one CSV for the billing
        service (clinic admins)."""
        query = ExportQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        clinic = query.validated_data["clinic"]
        if not access.has_capability(request.user, clinic.pk, Capability.EXPORT_BILLING):
            raise exceptions.PermissionDenied("Your role in this clinic may not export billing.")
        data = query.validated_data
        return export_file(clinic, data["date_from"], data["date_to"])
