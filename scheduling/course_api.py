"""The course API (``/api/v1/courses/``): prescribing, status, authorizations, and
the whole-course booking and progress, which read and write sessions."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from clinic import access, dates
from clinic.capabilities import Capability
from clinic.errors import Conflict
from clinic.viewsets import ClinicScopedViewSet
from courses import relapse_selectors, selectors, services
from courses.models import (
    Authorization,
    CourseStatus,
    Indication,
    ProtocolPhase,
    RiskLevel,
    TreatmentCourse,
)
from courses.outcome_serializers import CourseOutcomeSerializer
from courses.relapse_serializers import RelapseWatchSerializer
from courses.serializers import (
    AuthorizationSerializer,
    CourseSerializer,
    TransitionSerializer,
)
from scheduling import selectors as scheduling_selectors
from scheduling import services as scheduling_services
from scheduling.adverse_events import course_adverse_events
from scheduling.course_booster_api import BoosterActionMixin, booking_summary, planned_sessions
from scheduling.models import AdverseEvent, Session, SessionKind
from scheduling.serializers import (
    AdverseEventReviewSerializer,
    AdverseEventSerializer,
    LengthenSerializer,
    OutsideAuthorizationSerializer,
    PlannedSessionSerializer,
    ProgressSerializer,
    RedeterminationSerializer,
    ReplanSerializer,
    ScheduleSerializer,
    ScheduleWarningSerializer,
    SessionSerializer,
    SwitchProtocolSerializer,
)

SCHEDULING_FIELDS = {"start_date", "preferred_time", "preferred_chair"}


class CourseFilter(dates.BoundedFilterSet):
    clinic = filters.NumberFilter(field_name="patient__clinic")
    status = filters.MultipleChoiceFilter(choices=CourseStatus.choices)
    risk = filters.MultipleChoiceFilter(field_name="risk_level", choices=RiskLevel.choices)
    indication = filters.ChoiceFilter(choices=Indication.choices)

    class Meta:
        model = TreatmentCourse
        fields = ["patient", "psychiatrist", "protocol"]


def course_queryset() -> QuerySet[TreatmentCourse]:
    return TreatmentCourse.objects.select_related("patient__clinic", "protocol").prefetch_related(
        Prefetch("protocol__phases", queryset=ProtocolPhase.objects.order_by("order")),
        Prefetch(
            "authorizations",
            queryset=Authorization.objects.order_by("valid_from", "id").prefetch_related("codes"),
        ),
    )


class CourseViewSet(BoosterActionMixin, ClinicScopedViewSet):
    """Treatment courses. Psychiatrists prescribe and change status; front desk may
    change the scheduling details (start date, preferred time and chair)."""

    serializer_class = CourseSerializer
    filterset_class = CourseFilter
    clinic_lookup = "patient__clinic"
    # Updates: front desk only the scheduling fields, a prescriber anything.
    write_capability = Capability.EDIT_COURSE
    delete_capability = Capability.DELETE_KEPT_RECORDS  # discontinue instead; it stays
    action_capabilities = {
        # Front desk books whole courses (the booking page creates and schedules in one
        # step), naming the prescribing psychiatrist; booking still needs a screening a
        # psychiatrist cleared.
        "create": Capability.CREATE_COURSE,
        "activate": Capability.CHANGE_COURSE_STATUS,
        "pause": Capability.CHANGE_COURSE_STATUS,
        "resume": Capability.CHANGE_COURSE_STATUS,
        "complete": Capability.CHANGE_COURSE_STATUS,
        "discontinue": Capability.CHANGE_COURSE_STATUS,
        "outcome": Capability.READ_COURSE_OUTCOME,
        "schedule": Capability.BOOK_SESSIONS,
        "progress": Capability.READ_CLINIC_RECORDS,
        "adverse_events": Capability.READ_CLINICAL_DETAIL,
        "adverse_event_review": Capability.REVIEW_ADVERSE_EVENTS,
        "lengthen": Capability.PRESCRIBE,
        "switch_protocol": Capability.PRESCRIBE,
        # Prescribes as it books: the psychiatrist's (scheduling.course_booster_api).
        "booster": Capability.BOOK_BOOSTER,
        "redetermination": Capability.BOOK_REDETERMINATION,
        "relapse_watch": Capability.READ_SCORES,
    }

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope(course_queryset())

    def capability_for(self, action: str | None, method: str | None) -> Capability:
        if action == "authorizations" and method == "POST":
            return Capability.EXTEND_AUTHORIZATION  # reading them is a plain read
        return super().capability_for(action, method)

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        self.require_allowed_in(data["patient"].clinic_id)
        data.setdefault("psychiatrist", self.request.user)  # others must name one
        course = services.course_create(**data)
        serializer.instance = self.get_queryset().get(pk=course.pk)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        course = cast(TreatmentCourse, serializer.instance)
        data = dict(serializer.validated_data)
        prescribes = access.has_capability(
            self.request.user, course.patient.clinic_id, Capability.PRESCRIBE
        )
        if not prescribes and set(data) - SCHEDULING_FIELDS:
            raise exceptions.PermissionDenied(
                "Front desk may change only the start date, preferred time and chair."
            )
        if (
            "protocol" in data
            and data["protocol"] != course.protocol
            and Session.objects.filter(course=course).exists()
        ):
            # Booked or delivered sessions follow the old protocol's plan: only the
            # switch re-plans them (all or nothing) and puts the change on the timeline.
            raise Conflict(
                "This course has sessions: switch its protocol with the switch-protocol "
                "action, which re-plans the sessions left.",
                code="protocol_switch_required",
            )
        services.course_update(course, **data)
        serializer.instance = self.get_queryset().get(pk=course.pk)

    def _transition(self, request: Request, target: str) -> Response:
        course = self.get_object()
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.course_transition(
            course, target, by=request.user, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=course.pk)).data)

    @extend_schema(request=TransitionSerializer, responses=CourseSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        """Start the course; 409 `screening_required` without a cleared screening."""
        return self._transition(request, CourseStatus.ACTIVE)

    @extend_schema(request=TransitionSerializer, responses=CourseSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, CourseStatus.PAUSED)

    @extend_schema(request=TransitionSerializer, responses=CourseSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, CourseStatus.ACTIVE)

    @extend_schema(request=TransitionSerializer, responses=CourseSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, CourseStatus.COMPLETED)

    @extend_schema(request=TransitionSerializer, responses=CourseSerializer)
    @action(detail=True, methods=["post"])
    def discontinue(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, CourseStatus.DISCONTINUED)

    @extend_schema(
        request=AuthorizationSerializer,
        responses={200: AuthorizationSerializer(many=True), 201: AuthorizationSerializer},
    )
    # A bare list, not a page: pagination_class=None says so in the schema.
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def authorizations(self, request: Request, pk: str | None = None) -> Response:
        """The course's authorizations, oldest first; POST adds one (an extension)."""
        course = self.get_object()
        if request.method == "GET":
            return Response(AuthorizationSerializer(course.authorizations.all(), many=True).data)
        body = AuthorizationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = scheduling_services.authorization_extend(course, **body.validated_data)
        return Response(AuthorizationSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RedeterminationSerializer, responses={201: SessionSerializer})
    @action(detail=True, methods=["post"])
    def redetermination(self, request: Request, pk: str | None = None) -> Response:
        """Book a motor threshold re-determination (CPT 90869, kind ``remap``) as one
        extra session of the course: after its mapping session and not on that day
        (409 ``remap_before_mapping``, ``remap_same_day_as_mapping``, ``remap_same_day``),
        besides the rules of any booking."""
        course = self.get_object()
        body = RedeterminationSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        session = scheduling_services.session_book(
            course, kind=SessionKind.REMAP, **body.validated_data
        )
        data = SessionSerializer(session, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=CourseOutcomeSerializer)
    @action(detail=True, methods=["get"])
    def outcome(self, request: Request, pk: str | None = None) -> Response:
        """Baseline, latest score, severity, response and remission per tracked scale."""
        course = self.get_object()
        outcomes = selectors.course_outcomes(course)
        return Response({"instruments": [selectors.outcome_as_dict(o) for o in outcomes]})

    @extend_schema(
        request=ScheduleSerializer,
        responses={
            201: inline_serializer(
                "ScheduledSessions",
                {
                    "sessions": SessionSerializer(many=True),
                    "outside_authorization": OutsideAuthorizationSerializer(many=True),
                    "book_beyond_authorization": serializers.CharField(),
                    "warnings": ScheduleWarningSerializer(many=True),
                },
            ),
            200: inline_serializer(
                "SchedulePreview",
                {
                    "sessions": PlannedSessionSerializer(many=True),
                    "outside_authorization": OutsideAuthorizationSerializer(many=True),
                    "book_beyond_authorization": serializers.CharField(),
                    "warnings": ScheduleWarningSerializer(many=True),
                },
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str | None = None) -> Response:
        """Book every session of the course at once (all or nothing). 409 lists the
        dates that could not be placed, each with its reason. Sessions beyond the
        course's authorization (its count or dates) are listed in
        ``outside_authorization`` and booked marked ``pending_authorization`` or left
        unbooked, as the clinic's ``book_beyond_authorization`` says. ``warnings`` names
        what was booked against the protocol's rhythm (an accelerated course whose
        treatment days a weekend or closure interrupts). ``dry_run``: the same, booking
        nothing (200)."""
        course = self.get_object()
        body = ScheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        booking = scheduling_services.course_schedule_booking(course, **body.validated_data)
        summary = booking_summary(course, booking)
        if body.validated_data["dry_run"]:
            return Response({"sessions": planned_sessions(booking), **summary})
        listed = (
            Session.objects.filter(pk__in=[s.pk for s in booking.sessions])
            .with_sequence()
            .select_related("chair")
        )
        data = SessionSerializer(listed, many=True, context=self.get_serializer_context()).data
        return Response({"sessions": data, **summary}, status=status.HTTP_201_CREATED)

    def _replanned(self, result: scheduling_services.Replan, dry_run: bool) -> Response:
        if dry_run:  # the preview's rows were rolled back: they have no ids
            for session in result.booked:
                session.pk = None
        data = ReplanSerializer(result).data
        return Response(data, status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)

    @extend_schema(
        request=LengthenSerializer,
        responses={201: ReplanSerializer, 200: ReplanSerializer},
    )
    @action(detail=True, methods=["post"])
    def lengthen(self, request: Request, pk: str | None = None) -> Response:
        """Add sessions to the course (with a reason) and re-plan its remaining sessions
        from ``from_date``, all or nothing: 409 with the dates that could not be placed
        leaves every booking as it was. Added sessions extend the last phase that is not
        a taper; the taper stays at the end. ``dry_run``: the preview (200)."""
        course = self.get_object()
        body = LengthenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = scheduling_services.course_lengthen(course, by=request.user, **body.validated_data)
        return self._replanned(result, body.validated_data["dry_run"])

    @extend_schema(
        request=SwitchProtocolSerializer,
        responses={201: ReplanSerializer, 200: ReplanSerializer},
    )
    @action(detail=True, methods=["post"], url_path="switch-protocol")
    def switch_protocol(self, request: Request, pk: str | None = None) -> Response:
        """Switch the course to another protocol (e.g. 10 Hz to iTBS) and re-plan its
        remaining sessions on it, all or nothing (409 leaves everything as it was). The
        sessions already held count against the new protocol's phases in order; the
        prescribed pulses and intensity return to the new protocol's. ``dry_run``: the
        preview (200)."""
        course = self.get_object()
        body = SwitchProtocolSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        result = scheduling_services.course_switch_protocol(
            course, by=request.user, **body.validated_data
        )
        return self._replanned(result, body.validated_data["dry_run"])

    @extend_schema(responses=ProgressSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        """Sessions done, missed and to come, outcome so far, and risk with reasons."""
        body = scheduling_selectors.course_progress(self.get_object())
        return Response(ProgressSerializer(body).data)

    @extend_schema(responses=RelapseWatchSerializer)
    @action(detail=True, methods=["get"], url_path="relapse-watch")
    def relapse_watch(self, request: Request, pk: str | None = None) -> Response:
        """The relapse watch of a completed acute course and its points (404 when the
        course has none: not acute, not completed, or the clinic's watch is off)."""
        watch = relapse_selectors.watch_of(self.get_object())
        if watch is None:
            raise exceptions.NotFound("This course has no relapse watch.")
        return Response(RelapseWatchSerializer(watch).data)

    @extend_schema(responses=AdverseEventSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="adverse-events", pagination_class=None)
    def adverse_events(self, request: Request, pk: str | None = None) -> Response:
        """The course's adverse events, newest first; one without a decision holds the
        course (its sessions answer 409 `needs_review` to check-in and complete)."""
        events = course_adverse_events(self.get_object().pk)
        return Response(AdverseEventSerializer(events, many=True).data)

    @extend_schema(request=AdverseEventReviewSerializer, responses=AdverseEventSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path=r"adverse-events/(?P<event_id>[0-9]{1,12})/review",
    )
    def adverse_event_review(
        self, request: Request, pk: str | None = None, event_id: str | None = None
    ) -> Response:
        """A psychiatrist's decision (`continue`, `continue_changed` with a note,
        `discontinue`): it lifts the hold; `discontinue` discontinues the course. 409
        `already_reviewed` for a second decision."""
        course = self.get_object()
        event = get_object_or_404(AdverseEvent, pk=event_id, course=course)
        body = AdverseEventReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reviewed = scheduling_services.adverse_event_review(
            event, by=request.user, **body.validated_data
        )
        return Response(AdverseEventSerializer(reviewed).data)
