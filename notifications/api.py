from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from clinic import access, dates
from clinic.capabilities import Capability
from clinic.models import Clinic
from clinic.viewsets import ClinicScopedReadOnlyViewSet, ClinicScopedRecordViewSet
from notifications import services
from notifications.models import Channel, ConsentEvent, Kind, Notification, Status
from notifications.serializers import (
    ConsentEventSerializer,
    NotificationSerializer,
    ReminderPolicySerializer,
)


class NotificationFilter(dates.BoundedFilterSet):
    status = filters.MultipleChoiceFilter(choices=Status.choices)
    kind = filters.ChoiceFilter(choices=Kind.choices)
    channel = filters.ChoiceFilter(choices=Channel.choices)

    class Meta:
        model = Notification
        fields = ["clinic", "patient", "session"]


class NotificationViewSet(ClinicScopedReadOnlyViewSet):
    """The outbox, read-only: what went (or will go) to patients and what happened to
    it. Message texts are not listed."""

    queryset = Notification.objects.order_by("-scheduled_for", "-id")
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    read_capability = Capability.READ_OUTBOX


class ConsentEventViewSet(ClinicScopedRecordViewSet):
    """The consent ledger, oldest first; filter by ``patient``. A POST records a consent
    the patient gave or withdrew in writing (the only way, besides the patient texting
    START, to switch texts back on after they opted out)."""

    queryset = ConsentEvent.objects.select_related("patient").order_by("at", "id")
    serializer_class = ConsentEventSerializer
    filterset_fields = ["patient", "channel"]
    clinic_lookup = "patient__clinic"
    write_capability = Capability.EDIT_PATIENTS

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = serializer.validated_data
        self.require_allowed_in(data["patient"].clinic_id)
        serializer.instance = services.consent_record(
            data["patient"],
            data["channel"],
            granted=data["granted"],
            source=ConsentEvent.Source.WRITTEN,
            by=self.request.user,
            document=data.get("document", ""),
            given_on=data.get("given_on"),
        )


CLINIC_PATH = OpenApiParameter("clinic", int, OpenApiParameter.PATH)


class ReminderPolicyViewSet(viewsets.ViewSet):
    """Each clinic's reminder policy, addressed by clinic id. Everyone in the clinic
    reads it; clinic admins change it."""

    lookup_field = "clinic"
    lookup_value_regex = r"\d+"

    def _clinics(self) -> QuerySet[Clinic]:
        ids = access.clinic_ids(self.request.user)
        clinics = Clinic.objects.select_related("reminder_policy").order_by("id")
        return clinics if ids is None else clinics.filter(id__in=ids)

    def _data(self, clinic: Clinic) -> dict[str, Any]:
        data = dict(ReminderPolicySerializer(services.policy_for(clinic)).data)
        data["clinic"] = clinic.pk
        return data

    @extend_schema(responses=ReminderPolicySerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response([self._data(clinic) for clinic in self._clinics()])

    @extend_schema(parameters=[CLINIC_PATH], responses=ReminderPolicySerializer)
    def retrieve(self, request: Request, clinic: str | None = None) -> Response:
        return Response(self._data(get_object_or_404(self._clinics(), pk=clinic)))

    @extend_schema(
        parameters=[CLINIC_PATH],
        request=ReminderPolicySerializer,
        responses=ReminderPolicySerializer,
    )
    def partial_update(self, request: Request, clinic: str | None = None) -> Response:
        target = get_object_or_404(self._clinics(), pk=clinic)
        if not access.has_capability(request.user, target.pk, Capability.SET_UP_CLINIC):
            raise exceptions.PermissionDenied("Only a clinic admin may change the policy.")
        body = ReminderPolicySerializer(
            services.policy_for(target), data=request.data, partial=True
        )
        body.is_valid(raise_exception=True)
        services.policy_update(target, **body.validated_data)
        return Response(
            self._data(Clinic.objects.select_related("reminder_policy").get(pk=target.pk))
        )
