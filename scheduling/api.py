from __future__ import annotations

from typing import Any

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from clinic import access, dates
from clinic import services as clinic_services
from clinic.capabilities import Capability
from clinic.models import ChairBlock, Clinic, Closure
from clinic.serializers import ChairBlockSerializer, ClosureSerializer
from clinic.viewsets import ClinicScopedGenericViewSet, ClinicScopedViewSet
from scheduling import board_read, selectors, services
from scheduling.models import Session, SessionStatus
from scheduling.serializers import (
    AffectedSessionSerializer,
    AvailabilityQuerySerializer,
    AvailabilitySerializer,
    BoardSerializer,
    CancelSerializer,
    DayQuerySerializer,
    SessionMoveSerializer,
    SessionSerializer,
    TreatmentRecordSerializer,
    UndoSerializer,
)


class SessionFilter(dates.BoundedFilterSet):
    clinic = filters.NumberFilter(field_name="chair__clinic")
    date = dates.DateFilter(method="on_day", label="Clinic-local date")
    status = filters.MultipleChoiceFilter(choices=SessionStatus.choices)

    class Meta:
        model = Session
        fields = ["chair", "course", "patient", "kind"]

    def on_day(self, queryset: Any, name: str, value: Any) -> Any:
        ids = access.clinic_ids(self.request.user)
        clinics = Clinic.objects.all() if ids is None else Clinic.objects.filter(id__in=ids)
        wanted = self.data.get("clinic")
        if wanted and str(wanted).isdigit():
            clinics = clinics.filter(id=int(wanted))
        return selectors.sessions_on_day(queryset, list(clinics), value)


class SessionViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    ClinicScopedGenericViewSet,
):
    """Treatment sessions. Front desk books and moves them; attendance actions below."""

    queryset = (
        Session.objects.with_sequence()
        .select_related("chair", "record")
        .order_by("starts_at", "id")
    )
    serializer_class = SessionSerializer
    filterset_class = SessionFilter
    clinic_lookup = "chair__clinic"
    write_capability = Capability.BOOK_SESSIONS
    action_capabilities = {
        "check_in": Capability.CHECK_IN,
        "complete": Capability.RECORD_TREATMENT,
        "cancel": Capability.CANCEL_SESSION,
        "mark_missed": Capability.MARK_MISSED,
        "undo": Capability.UNDO_ATTENDANCE,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        course = data.pop("course")
        self.require_allowed_in(course.patient.clinic_id)
        chair = data.get("chair")
        if chair is not None and chair.clinic_id != course.patient.clinic_id:
            raise exceptions.ValidationError({"chair": ["Choose a chair of the patient's clinic."]})
        session = services.session_book(course, **data)
        serializer.instance = self.get_queryset().get(pk=session.pk)

    @extend_schema(request=SessionMoveSerializer, responses=SessionSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Move a session: a new start, a new chair, or both."""
        session = self.get_object()
        body = SessionMoveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        chair = body.validated_data.get("chair")
        if chair is not None and chair.clinic_id != session.chair.clinic_id:
            raise exceptions.ValidationError({"chair": ["Choose a chair of the same clinic."]})
        moved = services.session_move(session, **body.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=moved.pk)).data)

    def _respond(self, session: Session) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=session.pk)).data)

    @extend_schema(request=None, responses=SessionSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, pk: str | None = None) -> Response:
        return self._respond(services.session_check_in(self.get_object(), by=request.user))

    @extend_schema(request=TreatmentRecordSerializer, responses=SessionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        """Complete a checked-in session with what it delivered."""
        session = self.get_object()
        body = TreatmentRecordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(
            services.session_complete(session, technician=request.user, **body.validated_data)
        )

    @extend_schema(request=CancelSerializer, responses=SessionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        session = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(services.session_cancel(session, reason=body.validated_data["reason"]))

    @extend_schema(request=None, responses=SessionSerializer)
    @action(detail=True, methods=["post"], url_path="mark-missed")
    def mark_missed(self, request: Request, pk: str | None = None) -> Response:
        return self._respond(services.session_mark_missed(self.get_object()))

    @extend_schema(request=UndoSerializer, responses=SessionSerializer)
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        """Undo today's check-in, missed mark or cancellation, with the reason."""
        session = self.get_object()
        body = UndoSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(
            services.session_undo(session, reason=body.validated_data["reason"], by=request.user)
        )


def _visible_clinic_query(request: Request, serializer_class: type) -> dict[str, Any]:
    query = serializer_class(data=request.query_params, context={"request": request})
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


class AvailabilityView(APIView):
    """Free time per chair for a clinic-local day (or up to a month of days) and a slot
    length."""

    @extend_schema(parameters=[AvailabilityQuerySerializer], responses=AvailabilitySerializer)
    def get(self, request: Request) -> Response:
        query = _visible_clinic_query(request, AvailabilityQuerySerializer)
        body = selectors.availability(
            query["clinic"],
            query["date"],
            query["minutes"],
            query.get("coil"),
            until=query.get("until"),
        )
        return Response(AvailabilitySerializer(body).data)


class BoardView(APIView):
    """The day board: chairs with their sessions for a clinic-local day."""

    @extend_schema(parameters=[DayQuerySerializer], responses=BoardSerializer)
    def get(self, request: Request) -> Response:
        query = _visible_clinic_query(request, DayQuerySerializer)
        body = board_read.board_for_day(query["clinic"], query["date"])
        # BoardSerializer's JSON (the schema's), built without a serializer a session.
        return Response(board_read.board_json(body), status=status.HTTP_200_OK)


# --- closures and chair blocks: clinic rows whose writes move or refuse sessions ------


class ClosureFilter(dates.BoundedFilterSet):
    date_from = dates.DateFilter(field_name="date", lookup_expr="gte")
    date_to = dates.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Closure
        fields = ["clinic", "date"]


class ClosureViewSet(ClinicScopedViewSet):
    """Days the clinic is closed. Adding one does not move booked sessions: see which it
    hits with affected-sessions, then move them all with rebook."""

    queryset = Closure.objects.select_related("clinic").order_by("date", "id")
    serializer_class = ClosureSerializer
    filterset_class = ClosureFilter
    action_capabilities = {"rebook": Capability.REBOOK_CLOSURE}

    @extend_schema(responses=AffectedSessionSerializer(many=True))
    # A bare list, not a page: pagination_class=None says so in the schema.
    @action(detail=True, methods=["get"], url_path="affected-sessions", pagination_class=None)
    def affected_sessions(self, request: Request, pk: str | None = None) -> Response:
        """Sessions still booked on the closed day."""
        closure = self.get_object()
        hit = services.sessions_hit_by_closure(closure.clinic, closure.date)
        return Response(AffectedSessionSerializer(hit, many=True).data)

    @extend_schema(request=None, responses=AffectedSessionSerializer(many=True))
    @action(detail=True, methods=["post"], pagination_class=None)
    def rebook(self, request: Request, pk: str | None = None) -> Response:
        """Move every session on the closed day to the next free slot after its phase's
        last session (all or nothing; 409 lists what found no place)."""
        closure = self.get_object()
        moved = services.closure_rebook(closure.clinic, closure.date)
        return Response(AffectedSessionSerializer(moved, many=True).data)

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.require_allowed_in(serializer.validated_data["clinic"].pk)
        serializer.instance = clinic_services.closure_save(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        if "clinic" in serializer.validated_data:
            self.require_allowed_in(serializer.validated_data["clinic"].pk)
        serializer.instance = clinic_services.closure_save(
            serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Closure) -> None:
        clinic_services.closure_delete(instance)


class ChairBlockFilter(dates.BoundedFilterSet):
    clinic = filters.NumberFilter(field_name="chair__clinic")
    starts_before = dates.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    ends_after = dates.IsoDateTimeFilter(field_name="ends_at", lookup_expr="gt")

    class Meta:
        model = ChairBlock
        fields = ["chair"]


class ChairBlockViewSet(ClinicScopedViewSet):
    queryset = ChairBlock.objects.order_by("starts_at", "id")
    serializer_class = ChairBlockSerializer
    clinic_lookup = "chair__clinic"
    write_capability = Capability.BLOCK_CHAIRS
    filterset_class = ChairBlockFilter

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.require_allowed_in(serializer.validated_data["chair"].clinic_id)
        serializer.instance = services.chair_block_save(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        if "chair" in serializer.validated_data:
            self.require_allowed_in(serializer.validated_data["chair"].clinic_id)
        serializer.instance = services.chair_block_save(
            serializer.instance, **serializer.validated_data
        )
