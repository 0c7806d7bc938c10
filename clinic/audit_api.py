"""``GET /api/v1/audit-events/``: the audit trail of the clinics the caller administers
(clinic.audit_read has the filters)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from clinic import access
from clinic.api_common import ValidationErrorSerializer, summary, validation_body
from clinic.audit_read import AuditFilterForm, audit_events
from clinic.capabilities import Capability
from clinic.models import AuditAction, AuditEvent, Clinic
from clinic.viewsets import ClinicCapabilityPermission, ClinicScopedGenericViewSet


class AuditActorSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField()
    role = serializers.CharField(help_text="Their role in the event's clinic then.")


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    patient = serializers.SerializerMethodField(
        help_text="The one patient the event touched; null for none or several (see patients)."
    )
    patients = serializers.ListField(
        source="patient_ids", child=serializers.IntegerField(), read_only=True
    )
    changes = serializers.DictField(
        read_only=True, help_text="{field: [old, new]} for non-clinical fields only."
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "clinic",
            "action",
            "outcome",
            "object_type",
            "object_id",
            "patient",
            "patients",
            "fields",
            "changes",
            "client_address",
            "request_id",
            "channel",
        ]
        read_only_fields = fields

    @extend_schema_field(AuditActorSerializer)
    def get_actor(self, event: AuditEvent) -> dict[str, Any]:
        return {"id": event.actor_id, "username": event.username, "role": event.actor_role}

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_patient(self, event: AuditEvent) -> int | None:
        return event.patient_ids[0] if len(event.patient_ids) == 1 else None


@extend_schema(
    parameters=[
        OpenApiParameter("patient", int, description="Events that touched this patient."),
        OpenApiParameter("actor", int, description="Events by this staff member."),
        OpenApiParameter("action", str, enum=AuditAction.values),
        OpenApiParameter("from", OpenApiTypes.DATE, description="From this day (clinic-local)."),
        OpenApiParameter("to", OpenApiTypes.DATE, description="To this day, included."),
    ],
    responses={200: AuditEventSerializer(many=True), 400: ValidationErrorSerializer},
)
class AuditEventViewSet(mixins.ListModelMixin, ClinicScopedGenericViewSet):
    """The audit trail of the clinics where the caller is a clinic admin, newest first.
    Append-only: there is no way to change or delete an event."""

    serializer_class = AuditEventSerializer
    read_capability = Capability.READ_AUDIT_TRAIL
    permission_classes = [ClinicCapabilityPermission]
    queryset = AuditEvent.objects.none()
    filter_backends: list[Any] = []

    def clinics(self) -> set[int] | None:
        return access.clinic_ids_with(self.request.user, Capability.READ_AUDIT_TRAIL)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = AuditFilterForm(request.query_params)
        if not form.is_valid():
            problems = form.problems()
            return Response(validation_body("invalid_filter", summary(problems), problems), 400)
        self.filters = form.cleaned_data
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[AuditEvent]:
        ids = self.clinics()
        zone_clinic = Clinic.objects.filter(id__in=sorted(ids)[:1]).first() if ids else None
        return audit_events(ids, getattr(self, "filters", {}), zone_clinic)
