"""The waitlist API (``/api/v1/waitlist/``): prescribed courses waiting for room,
each with its earliest start (worked out after every change of capacity) and the offer
front desk books from in one action (``book-offer``); and the capacity forecast
(``/api/v1/capacity-forecast/``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from clinic import access, dates
from clinic.capabilities import Capability
from clinic.serializers import ScopedPrimaryKeyRelatedField, clinic_field
from clinic.viewsets import ClinicScopedViewSet
from courses.models import TreatmentCourse
from scheduling import services
from scheduling.capacity_forecast import FORECAST_WEEKS, capacity_forecast
from scheduling.models import Session, WaitlistEntry, WaitlistStatus
from scheduling.serializers import SessionSerializer


class WeekdaysField(serializers.ListField):
    """The weekdays a course may start on, 0 (Monday) to 6, stored as a bit mask."""

    child = serializers.IntegerField(min_value=0, max_value=6)

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        days = set(super().to_internal_value(data))
        if not days:
            raise serializers.ValidationError("Pick at least one weekday.", code="invalid")
        return sum(1 << day for day in days)

    def to_representation(self, value: Any) -> list[int]:
        return [day for day in range(7) if int(value) >> day & 1]


class WaitlistEntrySerializer(serializers.ModelSerializer[WaitlistEntry]):
    course: Any = ScopedPrimaryKeyRelatedField(
        clinic_lookup="patient__clinic", queryset=TreatmentCourse.objects.all()
    )
    patient = serializers.IntegerField(source="course.patient_id", read_only=True)
    weekdays = WeekdaysField(required=False)
    not_before = dates.DateField(required=False)

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "clinic",
            "course",
            "patient",
            "time_preference",
            "preferred_time",
            "time_flex_minutes",
            "weekdays",
            "not_before",
            "status",
            "fit_start",
            "fit_computed_at",
            "offer_start",
            "offered_at",
            "created_at",
            "closed_at",
        ]
        read_only_fields = [
            "clinic",
            "status",
            "fit_start",
            "fit_computed_at",
            "offer_start",
            "offered_at",
            "created_at",
            "closed_at",
        ]
        extra_kwargs = {"time_flex_minutes": {"min_value": 0, "max_value": 240}}


class WaitlistUpdateSerializer(WaitlistEntrySerializer):
    course: Any = serializers.PrimaryKeyRelatedField(read_only=True)


class WaitlistFilter(dates.BoundedFilterSet):
    status = filters.MultipleChoiceFilter(choices=WaitlistStatus.choices)
    offered = filters.BooleanFilter(field_name="offer_start", lookup_expr="isnull", exclude=True)

    class Meta:
        model = WaitlistEntry
        fields = ["clinic", "course"]


class WaitlistViewSet(ClinicScopedViewSet):
    """The waitlist. Front desk (and clinic admins) add a cleared patient's prescribed,
    unbooked course with the times the patient can come; ``fit_start`` is the earliest
    day from which every session fits (``fit_computed_at``: when it was worked out, in
    the background after each change of capacity); ``offer_start`` is set when that day
    moved earlier. DELETE takes the entry off the list (it is kept, ``removed``)."""

    serializer_class = WaitlistEntrySerializer
    filterset_class = WaitlistFilter
    write_capability = Capability.BOOK_SESSIONS
    action_capabilities = {
        "book_offer": Capability.BOOK_SESSIONS,
        "dismiss_offer": Capability.BOOK_SESSIONS,
    }

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope(
            WaitlistEntry.objects.select_related("course").order_by("created_at", "id")
        )

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in ("update", "partial_update"):
            return WaitlistUpdateSerializer
        return WaitlistEntrySerializer

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        course = cast(TreatmentCourse, data.pop("course"))
        self.require_allowed_in(course.patient.clinic_id)
        serializer.instance = services.waitlist_add(course, by=self.request.user, **data)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        entry = cast(WaitlistEntry, serializer.instance)
        serializer.instance = services.waitlist_update(entry, **serializer.validated_data)

    def perform_destroy(self, instance: WaitlistEntry) -> None:
        services.waitlist_remove(instance)

    @extend_schema(request=None, responses={201: SessionSerializer(many=True)})
    @action(detail=True, methods=["post"], url_path="book-offer")
    def book_offer(self, request: Request, pk: str | None = None) -> Response:
        """Book the course from its offer in one action: every session from
        ``offer_start`` at the entry's times, all or nothing; the entry leaves the
        waitlist (``booked``). 409 ``no_offer``, ``not_waiting``, or
        ``offer_no_longer_fits`` (the entry's earliest start is worked out again and
        named in the message)."""
        entry = self.get_object()
        booking = services.waitlist_book_offer(entry)
        listed = (
            Session.objects.filter(pk__in=[s.pk for s in booking.sessions])
            .with_sequence()
            .select_related("chair")
            .order_by("starts_at")
        )
        data = SessionSerializer(listed, many=True, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=WaitlistEntrySerializer)
    @action(detail=True, methods=["post"], url_path="dismiss-offer")
    def dismiss_offer(self, request: Request, pk: str | None = None) -> Response:
        """The patient declined the offer: it goes and the entry keeps waiting; a new
        offer comes only when the earliest start moves earlier again. 409 ``no_offer``."""
        entry = services.waitlist_dismiss_offer(self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=entry.pk)).data)


class ForecastQuerySerializer(serializers.Serializer):
    clinic = clinic_field()
    week_of = dates.DateField(
        required=False,
        help_text="A day of the first week (clinic-local, YYYY-MM-DD); default: today.",
    )
    weeks = serializers.IntegerField(
        min_value=1, max_value=26, default=FORECAST_WEEKS, required=False
    )


class ChairWeekSerializer(serializers.Serializer):
    chair = serializers.CharField()
    open_hours = serializers.FloatField()
    booked_hours = serializers.FloatField()


class ForecastWeekSerializer(serializers.Serializer):
    monday = dates.DateField()
    open_hours = serializers.FloatField()
    booked_hours = serializers.FloatField()
    free_hours = serializers.FloatField()
    waitlist_hours = serializers.FloatField()
    chairs = ChairWeekSerializer(many=True)


class ForecastSerializer(serializers.Serializer):
    waiting = serializers.IntegerField()
    without_start = serializers.IntegerField(
        help_text="Waiting courses with no start within the waitlist's horizon (not counted)."
    )
    weeks = ForecastWeekSerializer(many=True)


class CapacityForecastView(APIView):
    """Chair-hours open and booked per week (Monday to Sunday, clinic-local) for the next
    weeks, by chair and in total, with the hours the waiting courses would take from
    their earliest start. Front desk and clinic admins."""

    @extend_schema(parameters=[ForecastQuerySerializer], responses=ForecastSerializer)
    def get(self, request: Request) -> Response:
        query = ForecastQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        clinic = query.validated_data["clinic"]
        if not access.has_capability(request.user, clinic.pk, Capability.READ_CAPACITY_FORECAST):
            raise exceptions.PermissionDenied("Your role in this clinic may not do this.")
        day = query.validated_data.get("week_of") or clinic.today()
        monday = day - dt.timedelta(days=day.weekday())
        forecast = capacity_forecast(clinic, monday, query.validated_data["weeks"])
        return Response(ForecastSerializer(forecast).data)
