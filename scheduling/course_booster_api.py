"""``POST /api/v1/courses/{id}/booster/``: a booster course after the ended course, in
one action (``scheduling.services.booster_book``), and the body a whole-course booking
answers with (shared with the ``schedule`` action, so both read alike)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clinic import dates
from clinic.api_common import ConflictSerializer, ValidationErrorSerializer
from clinic.models import Chair
from clinic.serializers import ScopedPrimaryKeyRelatedField
from courses.models import TreatmentCourse
from courses.protocol_field import ProtocolField
from courses.serializers import CourseSerializer
from scheduling import services as scheduling_services
from scheduling.accelerated import treatment_breaks
from scheduling.models import Session
from scheduling.serializers import (
    OutsideAuthorizationSerializer,
    PlannedSessionSerializer,
    ScheduleWarningSerializer,
    SessionSerializer,
)
from scheduling.services.booking import CourseBooking


class BoosterSerializer(serializers.Serializer):
    protocol = ProtocolField(
        help_text="The booster's protocol code (an id is accepted too): one that begins "
        "with a treatment phase, e.g. `booster-10hz-week` or a repeated acute protocol "
        "(400 `not_booster_protocol` otherwise)."
    )
    start_date = dates.DateField(
        help_text="The first session's clinic day: not in the past, within a year of today, "
        "and not before the course followed ended."
    )
    preferred_time = serializers.TimeField(
        format="%H:%M",
        required=False,
        help_text="Clinic-local HH:MM; default: the course followed's.",
    )
    preferred_chair = ScopedPrimaryKeyRelatedField(
        clinic_lookup="clinic",
        queryset=Chair.objects.all(),
        required=False,
        allow_null=True,
        help_text="Default: any free chair fitted with the protocol's coil.",
    )
    time_flex_minutes = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=240
    )
    dry_run = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Preview: run the same rules, store nothing, answer 200 with the plan.",
    )


def booking_summary(course: TreatmentCourse, booking: CourseBooking) -> dict[str, Any]:
    """What a whole-course booking answers besides its sessions."""
    clinic = course.patient.clinic
    return {
        "outside_authorization": OutsideAuthorizationSerializer(
            booking.outside_authorization, many=True
        ).data,
        "book_beyond_authorization": clinic.book_beyond_authorization,
        "warnings": [
            entry.as_dict()
            for entry in treatment_breaks(
                booking.sessions, clinic.tz, course.protocol.sessions_per_day
            )
        ],
    }


def planned_sessions(booking: CourseBooking) -> Any:
    """A preview's sessions in time order, numbered (nothing stored: no ids)."""
    ordered = sorted(booking.sessions, key=lambda session: session.starts_at)
    planned = [{"sequence": n, "session": s} for n, s in enumerate(ordered, 1)]
    return PlannedSessionSerializer(planned, many=True).data


SUMMARY_FIELDS = {
    "outside_authorization": OutsideAuthorizationSerializer(many=True),
    "book_beyond_authorization": serializers.CharField(),
    "warnings": ScheduleWarningSerializer(many=True),
}
REUSED = serializers.IntegerField(
    allow_null=True,
    help_text="The motor threshold reused instead of a mapping session (one measured "
    "within the clinic's motor_threshold_valid_days before the start); null: the "
    "first session maps.",
)


class BoosterActionMixin:
    """The ``booster`` action of the course viewset (``scheduling.course_api``)."""

    @extend_schema(
        request=BoosterSerializer,
        responses={
            201: inline_serializer(
                "BoosterBooked",
                {
                    "course": CourseSerializer(),
                    "sessions": SessionSerializer(many=True),
                    "reused_motor_threshold": REUSED,
                    **SUMMARY_FIELDS,
                },
            ),
            200: inline_serializer(
                "BoosterPreview",
                {
                    "sessions": PlannedSessionSerializer(many=True),
                    "reused_motor_threshold": REUSED,
                    **SUMMARY_FIELDS,
                },
            ),
            400: OpenApiResponse(
                ValidationErrorSerializer,
                description="`not_booster_protocol` (protocol), `starts_before_followed_end` "
                "or `out_of_range` (start_date), a start in the past, or a psychiatrist "
                "field when the caller may not prescribe in the patient's clinic.",
            ),
            409: OpenApiResponse(
                ConflictSerializer,
                description="`course_not_ended` (the course is still open), `course_exists` "
                "(the patient has another open course), `screening_required`, or the "
                "planner's `slot_conflict` / `outside_hours` / `patient_conflict` with "
                "the dates that could not be placed in `conflicts`: nothing is stored.",
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def booster(self: Any, request: Request, pk: str | None = None) -> Response:
        """Prescribe a booster course that follows this ended course (completed or
        discontinued), plan every session and book them, all or nothing, in one
        transaction. The caller is its psychiatrist; the patient, indication, scale
        and diagnosis are the course's. The first session maps the motor threshold
        unless a recent one exists. ``dry_run``: the same, storing nothing (200)."""
        course = self.get_object()
        body = BoosterSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        dry_run = data.pop("dry_run")
        result = scheduling_services.booster_book(course, by=request.user, preview=dry_run, **data)
        reused = result.reused_threshold.pk if result.reused_threshold else None
        summary = {
            "reused_motor_threshold": reused,
            **booking_summary(result.course, result.booking),
        }
        if dry_run:
            return Response({"sessions": planned_sessions(result.booking), **summary})
        listed = (
            Session.objects.filter(pk__in=[s.pk for s in result.booking.sessions])
            .with_sequence()
            .select_related("chair")
        )
        booster = self.get_queryset().get(pk=result.course.pk)
        context = self.get_serializer_context()
        return Response(
            {
                "course": CourseSerializer(booster, context=context).data,
                "sessions": SessionSerializer(listed, many=True, context=context).data,
                **summary,
            },
            status=status.HTTP_201_CREATED,
        )
