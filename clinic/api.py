from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from clinic import access, dates, selectors, services
from clinic.capabilities import Capability
from clinic.models import Chair, Clinic, Patient, Role
from clinic.serializers import (
    ChairSerializer,
    ClinicSerializer,
    PatientSerializer,
    StaffSerializer,
)
from clinic.viewsets import ClinicScopedViewSet


class ClinicViewSet(ClinicScopedViewSet):
    """Clinics you belong to. Superusers create and delete; clinic admins edit theirs."""

    serializer_class = ClinicSerializer
    clinic_lookup = "id"
    delete_capability = Capability.DELETE_KEPT_RECORDS

    def get_queryset(self) -> QuerySet[Clinic]:
        return selectors.clinic_list(self.request.user)

    def clinic_id_of(self, obj: Any) -> int:
        return int(obj.pk)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not access.is_superuser(request.user):
            raise exceptions.PermissionDenied("Only a superuser may create clinics.")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = services.clinic_create(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = services.clinic_update(
            cast(Clinic, serializer.instance), **serializer.validated_data
        )


class ChairViewSet(ClinicScopedViewSet):
    queryset = Chair.objects.order_by("clinic_id", "name", "id")
    serializer_class = ChairSerializer
    filterset_fields = ["clinic", "active"]

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.require_allowed_in(serializer.validated_data["clinic"].pk)
        serializer.instance = services.chair_save(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        if "clinic" in serializer.validated_data:
            self.require_allowed_in(serializer.validated_data["clinic"].pk)
        serializer.instance = services.chair_save(serializer.instance, **serializer.validated_data)


class PatientFilter(dates.BoundedFilterSet):
    q = filters.CharFilter(method="search", label="MRN, phone or name")

    class Meta:
        model = Patient
        fields = ["clinic"]

    def search(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        contact = access.clinic_ids_with(self.request.user, Capability.READ_PATIENT_CONTACT)
        return selectors.patient_search(queryset, value, phone_in=contact)


class PatientViewSet(ClinicScopedViewSet):
    queryset = Patient.objects.order_by("last_name", "first_name", "id")
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    write_capability = Capability.EDIT_PATIENTS
    delete_capability = Capability.DELETE_PATIENTS

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.require_allowed_in(serializer.validated_data["clinic"].pk)
        serializer.instance = services.patient_save(
            by=self.request.user, consent_source="api", **serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        if "clinic" in serializer.validated_data:
            self.require_allowed_in(serializer.validated_data["clinic"].pk)
        serializer.instance = services.patient_save(
            cast(Patient, serializer.instance),
            by=self.request.user,
            consent_source="api",
            **serializer.validated_data,
        )


class StaffFilter(dates.BoundedFilterSet):
    clinic = filters.NumberFilter(field_name="memberships__clinic", distinct=True)
    role = filters.ChoiceFilter(field_name="memberships__role", choices=Role.choices, distinct=True)


class StaffViewSet(ClinicScopedViewSet):
    """Staff of your clinics. Everyone may read (to pick a psychiatrist); admins write."""

    serializer_class = StaffSerializer
    clinic_lookup = "memberships__clinic"
    filterset_class = StaffFilter
    write_capability = Capability.MANAGE_STAFF

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.staff_list(self.request.user)

    def check_object_permissions(self, request: Request, obj: Any) -> None:
        if request.method not in permissions.SAFE_METHODS and not self._administers(obj):
            self.permission_denied(request, message="You administer none of this person's clinics.")

    def _administers(self, user: Any) -> bool:
        managed = access.clinic_ids_with(self.request.user, Capability.MANAGE_STAFF)
        if managed is None:
            return True
        if user.is_superuser:
            return False
        return any(m.clinic_id in managed for m in user.memberships.all())

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = services.staff_save(
            managed_clinics=access.clinic_ids_with(self.request.user, Capability.MANAGE_STAFF),
            invite_base_url=settings.PUBLIC_BASE_URL or self.request.build_absolute_uri("/"),
            **serializer.validated_data,
        )

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = services.staff_save(
            serializer.instance,
            managed_clinics=access.clinic_ids_with(self.request.user, Capability.MANAGE_STAFF),
            **serializer.validated_data,
        )
        # Re-read memberships for the response.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_destroy(self, instance: Any) -> None:
        services.staff_remove(
            instance,
            managed_clinics=access.clinic_ids_with(self.request.user, Capability.MANAGE_STAFF),
            by=self.request.user,
        )
