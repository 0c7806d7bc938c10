"""Base viewset for clinic-scoped resources: every row belongs to a clinic.

Rows of clinics the user does not belong to are filtered out of the queryset, so they
answer 404; a member whose role in the row's clinic lacks the action's capability
(:mod:`clinic.capabilities`) gets 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.request import Request

from clinic import access, audit_trail
from clinic.capabilities import Capability


class ClinicCapabilityPermission(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method not in view.allowed_methods:
            return True  # answered 405 by the view, whatever the role
        if (view.lookup_url_kwarg or view.lookup_field) in view.kwargs:
            # Detail routes: a row outside the user's clinics must answer 404 before any
            # capability check, so the object-level check decides.
            return True
        allowed = access.clinic_ids_with(
            request.user, view.capability_for(view.action, request.method)
        )
        return allowed is None or bool(allowed)

    def has_object_permission(self, request: Request, view: Any, obj: Model) -> bool:
        return bool(view.object_permitted(request, obj))


class ClinicScopedGenericViewSet(viewsets.GenericViewSet):
    # ORM path from the model to its clinic, e.g. "clinic" or "chair__clinic".
    clinic_lookup: ClassVar[str] = "clinic"
    read_capability: ClassVar[Capability] = Capability.READ_CLINIC_RECORDS
    write_capability: ClassVar[Capability] = Capability.SET_UP_CLINIC
    delete_capability: ClassVar[Capability | None] = None  # None: the write capability
    # Actions that need another capability than their method's (extra routes, create).
    action_capabilities: ClassVar[Mapping[str, Capability]] = {}
    permission_classes = [ClinicCapabilityPermission]
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def capability_for(self, action: str | None, method: str | None) -> Capability:
        """What the user needs in the row's clinic to do ``action`` with ``method``."""
        if action is not None and action in self.action_capabilities:
            return self.action_capabilities[action]
        if method in permissions.SAFE_METHODS:
            return self.read_capability
        if method == "DELETE" and self.delete_capability is not None:
            return self.delete_capability
        return self.write_capability

    def scope(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        ids = access.clinic_ids(self.request.user)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.clinic_lookup}__in": ids})

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope(super().get_queryset())

    # The audit trail (clinic.audit_trail): a read names the patients of the page it
    # returns, or of the one object, even when their Patient rows are not loaded.
    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        if page is not None:
            audit_trail.note_read(page)
        return page

    def get_object(self) -> Any:
        obj = super().get_object()
        if self.request.method in permissions.SAFE_METHODS:
            audit_trail.note_read([obj], object_id=str(obj.pk))
        return obj

    def clinic_id_of(self, obj: Model) -> int | None:
        *path, last = self.clinic_lookup.split("__")
        for attribute in path:
            obj = getattr(obj, attribute)
        value = getattr(obj, f"{last}_id")
        return None if value is None else int(value)

    def object_permitted(self, request: Request, obj: Model) -> bool:
        capability = self.capability_for(self.action, request.method)
        return access.has_capability(request.user, self.clinic_id_of(obj), capability)

    def require_allowed_in(self, clinic_id: int) -> None:
        """For creates (and moves to another clinic): the target clinic is visible
        (checked by the serializer), but the user's role there must allow the action."""
        capability = self.capability_for(self.action, self.request.method)
        if not access.has_capability(self.request.user, clinic_id, capability):
            raise exceptions.PermissionDenied("Your role in this clinic may not do this.")


class ClinicScopedViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    ClinicScopedGenericViewSet,
):
    pass


class ClinicScopedRecordViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    ClinicScopedGenericViewSet,
):
    """For records that are added, never edited or deleted (scores, measurements)."""


class ClinicScopedReadOnlyViewSet(
    mixins.RetrieveModelMixin, mixins.ListModelMixin, ClinicScopedGenericViewSet
):
    pass
