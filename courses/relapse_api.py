"""The relapse list in the API (docs/relapse-watch.md): read by whoever sees scores,
closed by psychiatrists. A course's watch is an action of the course resource
(``GET /courses/{id}/relapse-watch/``, scheduling/course_api.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.capabilities import Capability
from clinic.viewsets import ClinicScopedReadOnlyViewSet
from courses import relapse, relapse_selectors
from courses.models import Relapse
from courses.relapse_serializers import RelapseCloseSerializer, RelapseSerializer


class RelapseFilter(filters.FilterSet):
    clinic = filters.NumberFilter(field_name="course__patient__clinic")
    open = filters.BooleanFilter(
        field_name="closed_at", lookup_expr="isnull", label="Only open (true) or closed (false)"
    )

    class Meta:
        model = Relapse
        fields = ["course", "clinic", "open"]


class RelapseViewSet(ClinicScopedReadOnlyViewSet):
    """The relapse list: patient-reported PHQ-9 scores that met the clinic's relapse
    rule, newest first. Each names the course's booster action."""

    queryset = relapse_selectors.relapses()
    serializer_class = RelapseSerializer
    filterset_class = RelapseFilter
    clinic_lookup = "course__patient__clinic"
    read_capability = Capability.READ_SCORES
    action_capabilities = {"close": Capability.CLOSE_RELAPSES}

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope(relapse_selectors.relapses())

    @extend_schema(request=RelapseCloseSerializer, responses=RelapseSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        """Close the entry, with a note (idempotent: the first close is kept); its
        staff alert is settled with it."""
        body = RelapseCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        closed = relapse.relapse_close(
            self.get_object(), by=request.user, note=body.validated_data["note"]
        )
        return Response(RelapseSerializer(closed).data)
