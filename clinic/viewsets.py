"""Base viewset for clinic-scoped resources: every row belongs to a clinic.

Rows of clinics the user does not belong to are filtered out of the queryset, so they
answer 404; a member whose role may not do the action gets 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.request import Request

from clinic import access
from clinic.models import Role


class ClinicRolePermission(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method not in view.allowed_methods:
            return True  # answered 405 by the view, whatever the role
        if (view.lookup_url_kwarg or view.lookup_field) in view.kwargs:
            # Detail routes: a row outside the user's clinics must answer 404 before any
            # role check, so the object-level check decides.
            return True
        allowed = access.clinic_ids(request.user, view.roles_for(request))
        return allowed is None or bool(allowed)

    def has_object_permission(self, request: Request, view: Any, obj: Model) -> bool:
        return bool(view.object_permitted(request, obj))


class ClinicScopedGenericViewSet(viewsets.GenericViewSet):
    # ORM path from the model to its clinic, e.g. "clinic" or "chair__clinic".
    clinic_lookup: ClassVar[str] = "clinic"
    read_roles: ClassVar[Iterable[str]] = access.ALL_ROLES
    write_roles: ClassVar[Iterable[str]] = (Role.CLINIC_ADMIN,)
    delete_roles: ClassVar[Iterable[str] | None] = None
    permission_classes = [ClinicRolePermission]
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def roles_for(self, request: Request) -> Iterable[str]:
        if request.method in permissions.SAFE_METHODS:
            return self.read_roles
        if request.method == "DELETE" and self.delete_roles is not None:
            return self.delete_roles
        return self.write_roles

    def scope(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        ids = access.clinic_ids(self.request.user)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.clinic_lookup}__in": ids})

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope(super().get_queryset())

    def clinic_id_of(self, obj: Model) -> int | None:
        *path, last = self.clinic_lookup.split("__")
        for attribute in path:
            obj = getattr(obj, attribute)
        value = getattr(obj, f"{last}_id")
        return None if value is None else int(value)

    def object_permitted(self, request: Request, obj: Model) -> bool:
        return access.has_role(request.user, self.clinic_id_of(obj), self.roles_for(request))

    def require_write_role(self, clinic_id: int) -> None:
        """For creates: the target clinic is visible (checked by the serializer), but
        the user's role there must allow writing."""
        if not access.has_role(self.request.user, clinic_id, self.write_roles):
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
