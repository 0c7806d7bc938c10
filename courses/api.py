from __future__ import annotations

from typing import Any, cast

from django.db.models import F, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from clinic import access, dates
from clinic.capabilities import Capability
from clinic.viewsets import (
    ClinicScopedReadOnlyViewSet,
    ClinicScopedRecordViewSet,
    ClinicScopedViewSet,
)
from courses import alerts, selectors, services
from courses.models import (
    Assessment,
    MotorThreshold,
    SafetyFlag,
    Screening,
    StaffAlert,
)
from courses.outcome_serializers import OutcomeQuerySerializer, OutcomeSummarySerializer
from courses.serializers import (
    AssessmentSerializer,
    DecisionSerializer,
    MotorThresholdSerializer,
    ProtocolSerializer,
    SafetyFlagSerializer,
    ScreeningSerializer,
    StaffAlertSerializer,
)


class ProtocolViewSet(ClinicScopedViewSet):
    """The shared catalog plus your clinics' own protocols. Clinic admins write their
    clinic's protocols; the catalog is changed by superusers only."""

    serializer_class = ProtocolSerializer
    filterset_fields = ["code", "active"]
    # Retire with active=false instead: past courses keep their protocol.
    delete_capability = Capability.DELETE_KEPT_RECORDS

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.protocols_visible(self.request.user)

    def object_permitted(self, request: Request, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True  # the queryset already holds only what the user may see
        return super().object_permitted(request, obj)

    def _require_clinic_write(self, clinic: Any) -> None:
        if clinic is None:
            if not access.is_superuser(self.request.user):
                raise exceptions.PermissionDenied("Only a superuser may change the catalog.")
        else:
            self.require_allowed_in(clinic.pk)

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self._require_clinic_write(serializer.validated_data.get("clinic"))
        serializer.instance = services.protocol_save(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        if "clinic" in serializer.validated_data:
            self._require_clinic_write(serializer.validated_data["clinic"])
        serializer.instance = services.protocol_save(
            serializer.instance, **serializer.validated_data
        )


class ScreeningFilter(dates.BoundedFilterSet):
    clinic = filters.NumberFilter(field_name="patient__clinic")

    class Meta:
        model = Screening
        fields = ["patient", "status"]


class ScreeningViewSet(ClinicScopedViewSet):
    """Eligibility screenings. Front desk and admins see the status only."""

    queryset = Screening.objects.select_related("patient").prefetch_related(
        "failed_trials", "patient__clinic"
    )
    serializer_class = ScreeningSerializer
    filterset_class = ScreeningFilter
    clinic_lookup = "patient__clinic"
    write_capability = Capability.RECORD_SCREENING
    delete_capability = Capability.DELETE_KEPT_RECORDS
    action_capabilities = {
        "clear": Capability.CLEAR_SCREENING,
        "decline": Capability.CLEAR_SCREENING,
    }

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        self.require_allowed_in(data["patient"].clinic_id)
        serializer.instance = services.screening_save(recorded_by=self.request.user, **data)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        screening = cast(Screening, serializer.instance)
        if "patient" in data and data["patient"] != screening.patient:
            raise exceptions.ValidationError({"patient": ["A screening stays with its patient."]})
        serializer.instance = services.screening_save(
            screening, recorded_by=self.request.user, **data
        )

    def _decide(self, request: Request, decide: Any) -> Response:
        screening = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = decide(screening, by=request.user, reason=body.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=decided.pk)).data)

    @extend_schema(request=DecisionSerializer, responses=ScreeningSerializer)
    @action(detail=True, methods=["post"])
    def clear(self, request: Request, pk: str | None = None) -> Response:
        """Clear the patient for treatment (psychiatrist). 409 `contraindicated` when an
        absolute contraindication is recorded, `insufficient_trials` when treatment
        resistance is not shown."""
        return self._decide(request, services.screening_clear)

    @extend_schema(request=DecisionSerializer, responses=ScreeningSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str | None = None) -> Response:
        """Decide against treatment (psychiatrist), with a reason."""
        return self._decide(request, services.screening_decline)


class AssessmentFilter(dates.BoundedFilterSet):
    clinic = filters.NumberFilter(field_name="course__patient__clinic")

    class Meta:
        model = Assessment
        fields = ["course", "instrument"]


class AssessmentViewSet(ClinicScopedRecordViewSet):
    """Rating-scale scores. Technicians and psychiatrists record them; item answers
    are shown to clinicians only. Scores are never edited: record a new one."""

    queryset = Assessment.objects.select_related("course__patient", "safety_flag").order_by(
        "administered_on", "id"
    )
    serializer_class = AssessmentSerializer
    filterset_class = AssessmentFilter
    clinic_lookup = "course__patient__clinic"
    write_capability = Capability.RECORD_MEASUREMENTS

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        course = data.pop("course")
        self.require_allowed_in(course.patient.clinic_id)
        assessment = services.assessment_record(course, by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=assessment.pk)


class MotorThresholdViewSet(ClinicScopedRecordViewSet):
    queryset = MotorThreshold.objects.select_related("course__patient").order_by(
        "measured_on", "id"
    )
    serializer_class = MotorThresholdSerializer
    filterset_fields = ["course"]
    clinic_lookup = "course__patient__clinic"
    read_capability = Capability.READ_MOTOR_THRESHOLDS
    write_capability = Capability.RECORD_MEASUREMENTS

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        course = data.pop("course")
        self.require_allowed_in(course.patient.clinic_id)
        serializer.instance = services.motor_threshold_record(course, by=self.request.user, **data)


class SafetyFlagFilter(dates.BoundedFilterSet):
    acknowledged = filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )
    clinic = filters.NumberFilter(field_name="course__patient__clinic")

    class Meta:
        model = SafetyFlag
        fields = ["course"]


class SafetyFlagViewSet(ClinicScopedReadOnlyViewSet):
    """PHQ-9 self-harm answers above 0. Psychiatrists acknowledge them."""

    queryset = SafetyFlag.objects.select_related("course__patient").order_by("-raised_at", "-id")
    serializer_class = SafetyFlagSerializer
    filterset_class = SafetyFlagFilter
    clinic_lookup = "course__patient__clinic"
    action_capabilities = {"acknowledge": Capability.REVIEW_SAFETY_FLAGS}

    @extend_schema(request=None, responses=SafetyFlagSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        flag = services.safety_flag_acknowledge(self.get_object(), by=request.user)
        return Response(self.get_serializer(flag).data)


class OutcomeSummaryView(APIView):
    """Response and remission rates of a clinic's completed courses by protocol and
    indication (psychiatrists and clinic admins)."""

    capability = Capability.READ_OUTCOMES

    @extend_schema(
        parameters=[
            OpenApiParameter("clinic", int, required=True),
            OpenApiParameter("date_from", str, required=True, description="YYYY-MM-DD"),
            OpenApiParameter("date_to", str, required=True, description="YYYY-MM-DD"),
        ],
        responses=OutcomeSummarySerializer,
    )
    def get(self, request: Request) -> Response:
        query = OutcomeQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        clinic = query.validated_data["clinic"]
        if not access.has_capability(request.user, clinic.pk, self.capability):
            raise exceptions.PermissionDenied("Your role in this clinic may not see outcomes.")
        rows = selectors.outcome_summary(
            [clinic.pk], query.validated_data["date_from"], query.validated_data["date_to"]
        )
        body = {
            "clinic": clinic.pk,
            "date_from": query.validated_data["date_from"],
            "date_to": query.validated_data["date_to"],
            "rows": rows,
        }
        return Response(OutcomeSummarySerializer(body).data)


class StaffAlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Your own alerts (at-risk courses, safety flags), unacknowledged first."""

    queryset = StaffAlert.objects.none()  # for the schema; see get_queryset
    serializer_class = StaffAlertSerializer
    filterset_fields = ["kind", "course"]

    def get_queryset(self) -> QuerySet[Any]:
        return StaffAlert.objects.filter(recipient_id=self.request.user.pk).order_by(
            F("acknowledged_at").asc(nulls_first=True), "-created_at", "-id"
        )

    @extend_schema(request=None, responses=StaffAlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        return Response(StaffAlertSerializer(alerts.acknowledge(self.get_object())).data)
