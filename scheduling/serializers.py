from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic import access, dates
from clinic.capabilities import Capability
from clinic.models import Chair, Coil
from clinic.serializers import ScopedPrimaryKeyRelatedField, clinic_field
from courses.models import TreatmentCourse
from courses.protocol_field import ProtocolField
from scheduling.models import (
    AdverseEvent,
    ReviewDecision,
    Session,
    SessionKind,
    SideEffect,
    TreatmentRecord,
)


class TreatmentRecordSerializer(dates.BoundedModelSerializer):
    """Parses a treatment record; its limits are TreatmentRecord's, checked by
    scheduling.services.session_complete (the page's form sends the same)."""

    side_effects = serializers.ListField(
        child=serializers.ChoiceField(choices=SideEffect.choices), required=False, default=list
    )

    class Meta:
        model = TreatmentRecord
        fields = [
            "pulses_delivered",
            "intensity_pct_mt",
            "coil_position",
            "side_effects",
            "side_effects_other",
            "adverse_event",
            "notes",
            "deviation_reason",
            "deviations",
            "technician",
            "created_at",
        ]
        read_only_fields = ["deviations", "technician", "created_at"]
        extra_kwargs = {
            "deviation_reason": {
                "help_text": "Why the session departed from the prescription; required "
                "(400 deviation_reason_required) when pulses are more than 10% off, the "
                "intensity is above it or the coil position differs."
            },
            "deviations": {"help_text": "Codes of the departures from the prescription."},
        }


class SessionSerializer(dates.BoundedModelSerializer):
    course = ScopedPrimaryKeyRelatedField(
        clinic_lookup="patient__clinic", queryset=TreatmentCourse.objects.all()
    )
    chair = ScopedPrimaryKeyRelatedField(
        clinic_lookup="clinic", queryset=Chair.objects.all(), required=False
    )
    kind = serializers.ChoiceField(
        choices=SessionKind.choices, default=SessionKind.TREATMENT, required=False
    )
    record = serializers.SerializerMethodField(
        help_text="What the session delivered; shown to clinicians only."
    )
    sequence = serializers.IntegerField(
        read_only=True,
        help_text="Position among the course's sessions that count (not missed or cancelled).",
    )

    class Meta:
        model = Session
        fields = [
            "id",
            "course",
            "patient",
            "chair",
            "starts_at",
            "ends_at",
            "status",
            "sequence",
            "kind",
            "phase",
            "pending_authorization",
            "makeup_for",
            "checked_in_at",
            "completed_at",
            "missed_at",
            "cancelled_at",
            "cancel_reason",
            "record",
        ]
        read_only_fields = [
            "patient",
            "ends_at",
            "status",
            "phase",
            "pending_authorization",
            "makeup_for",
            "checked_in_at",
            "completed_at",
            "missed_at",
            "cancelled_at",
            "cancel_reason",
        ]

    @extend_schema_field(TreatmentRecordSerializer(allow_null=True))
    def get_record(self, session: Session) -> dict[str, Any] | None:
        record = getattr(session, "record", None)
        clinic_id = session.chair.clinic_id
        if record is None or not access.has_capability(
            self.context["request"].user, clinic_id, Capability.READ_CLINICAL_DETAIL
        ):
            return None
        return dict(TreatmentRecordSerializer(record).data)


class RedeterminationSerializer(serializers.Serializer):
    starts_at = dates.DateTimeField()
    chair = ScopedPrimaryKeyRelatedField(
        clinic_lookup="clinic", queryset=Chair.objects.all(), required=False
    )


class SessionMoveSerializer(serializers.Serializer):
    starts_at = dates.DateTimeField(required=False)
    chair = ScopedPrimaryKeyRelatedField(
        clinic_lookup="clinic", queryset=Chair.objects.all(), required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send starts_at, chair or both."]}
            )
        return attrs


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class UndoSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class ScheduleSerializer(serializers.Serializer):
    time_flex_minutes = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=240
    )
    dry_run = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Preview: run the same rules, book nothing, answer 200 with the plan.",
    )


class PlannedSessionSerializer(serializers.Serializer):
    """A session of a whole-course booking's preview (nothing is stored yet)."""

    sequence = serializers.IntegerField()
    starts_at = dates.DateTimeField(source="session.starts_at")
    ends_at = dates.DateTimeField(source="session.ends_at")
    chair = serializers.IntegerField(source="session.chair_id")
    kind = serializers.CharField(source="session.kind")
    phase = serializers.IntegerField(source="session.phase")
    pending_authorization = serializers.BooleanField(source="session.pending_authorization")


class ScheduleWarningSerializer(serializers.Serializer):
    """Something booked against the protocol's rhythm: an accelerated course whose
    treatment days a weekend or closure interrupts."""

    code = serializers.CharField()
    detail = serializers.CharField()
    stops_after = dates.DateField()
    resumes_on = dates.DateField()


class OutsideAuthorizationSerializer(serializers.Serializer):
    """A planned session the course's authorization does not cover."""

    starts_at = dates.DateTimeField(source="placement.starts_at")
    ends_at = dates.DateTimeField(source="placement.ends_at")
    chair = serializers.IntegerField(source="placement.chair_id")
    kind = serializers.CharField(source="placement.kind")
    reason = serializers.ChoiceField(
        choices=["count", "dates"],
        help_text="count: beyond the sessions authorized; dates: outside its dates.",
    )
    detail = serializers.CharField()
    booked = serializers.BooleanField(
        help_text="True: booked, marked pending authorization; false: left unbooked."
    )


class DayQuerySerializer(serializers.Serializer):
    clinic = clinic_field()
    date = dates.DateField(help_text="Clinic-local date, YYYY-MM-DD.")


AVAILABILITY_MAX_DAYS = 31


class AvailabilityQuerySerializer(DayQuerySerializer):
    minutes = serializers.IntegerField(min_value=5, max_value=720, default=30, required=False)
    until = dates.DateField(
        required=False,
        help_text=(
            "Last clinic-local date (inclusive) to cover, YYYY-MM-DD: a stretch of up to "
            f"{AVAILABILITY_MAX_DAYS} days from date in one request (default: date only)."
        ),
    )
    coil = serializers.ChoiceField(
        choices=Coil.choices,
        required=False,
        help_text="Only chairs fitted with this coil (a protocol's coil).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        until = attrs.get("until")
        if until is not None:
            days = (until - attrs["date"]).days + 1
            if not 1 <= days <= AVAILABILITY_MAX_DAYS:
                raise serializers.ValidationError(
                    {
                        "until": [
                            f"Choose a date from date to {AVAILABILITY_MAX_DAYS - 1} days after it."
                        ]
                    }
                )
        return attrs


class IntervalSerializer(serializers.Serializer):
    starts_at = dates.DateTimeField()
    ends_at = dates.DateTimeField()


class ChairAvailabilitySerializer(serializers.Serializer):
    chair = serializers.IntegerField()
    name = serializers.CharField()
    coils = serializers.ListField(child=serializers.CharField())
    free = IntervalSerializer(many=True)


class AvailabilitySerializer(serializers.Serializer):
    date = dates.DateField()
    until = dates.DateField(help_text="The last date covered (date when not asked for).")
    minutes = serializers.IntegerField()
    chairs = ChairAvailabilitySerializer(many=True)


class BoardPatientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="First name and last initial.")


class BoardCourseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sequence = serializers.IntegerField()
    sessions_total = serializers.IntegerField()
    risk_level = serializers.CharField()
    needs_review = serializers.BooleanField(
        help_text="The course is on hold after an adverse event: this session cannot be "
        "checked in or completed until a psychiatrist records a decision."
    )


class BoardSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    starts_at = dates.DateTimeField()
    ends_at = dates.DateTimeField()
    status = serializers.CharField()
    kind = serializers.CharField()
    pending_authorization = serializers.BooleanField(
        help_text="Booked beyond the course's payer authorization (its count or dates)."
    )
    patient = BoardPatientSerializer()
    course = BoardCourseSerializer()


class BoardChairSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    active = serializers.BooleanField()
    sessions = BoardSessionSerializer(many=True)


class BoardSerializer(serializers.Serializer):
    date = dates.DateField()
    clinic = serializers.IntegerField()
    chairs = BoardChairSerializer(many=True)


class ScorePointSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    administered_on = dates.DateField()


class RiskDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.CharField()
    detail = serializers.CharField(help_text="A human explanation.")


class RiskSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["ok", "watch", "at_risk"])
    reasons = serializers.ListField(child=serializers.CharField())
    details = RiskDetailSerializer(many=True)


class CodeAllowanceSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="CPT code the authorization lines name.")
    authorized = serializers.IntegerField(help_text="Units authorized, all lines together.")
    used = serializers.IntegerField(help_text="Units billed for delivered sessions.")
    booked = serializers.IntegerField(help_text="Sessions of the code still to come.")
    remaining = serializers.IntegerField(help_text="Authorized less used, at least 0.")


class ProgressSerializer(serializers.Serializer):
    sessions_total = serializers.IntegerField()
    completed = serializers.IntegerField()
    missed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    scheduled = serializers.IntegerField()
    remaining = serializers.IntegerField()
    unscheduled = serializers.IntegerField()
    next_session_at = dates.DateTimeField(allow_null=True)
    first_session_date = dates.DateField(allow_null=True)
    projected_end_date = dates.DateField()
    window_end_date = dates.DateField()
    authorization_remaining = serializers.IntegerField(allow_null=True)
    authorization_codes = CodeAllowanceSerializer(
        many=True, help_text="Per code, when an authorization is scoped to codes."
    )
    instrument = serializers.CharField()
    baseline = ScorePointSerializer(allow_null=True)
    latest = ScorePointSerializer(allow_null=True)
    response = serializers.BooleanField(allow_null=True)
    remission = serializers.BooleanField(allow_null=True)
    risk = RiskSerializer()


class AffectedSessionSerializer(dates.BoundedModelSerializer):
    class Meta:
        model = Session
        fields = ["id", "course", "patient", "chair", "starts_at", "ends_at", "status", "kind"]
        read_only_fields = fields


class AdverseEventSerializer(dates.BoundedModelSerializer):
    """An adverse event of a course; ``decision`` is empty while it holds the course."""

    on_hold = serializers.SerializerMethodField(
        help_text="True until a psychiatrist records a decision."
    )

    class Meta:
        model = AdverseEvent
        fields = [
            "id",
            "course",
            "session",
            "kind",
            "description",
            "raised_at",
            "raised_by",
            "decision",
            "decision_note",
            "reviewed_at",
            "reviewed_by",
            "on_hold",
        ]
        read_only_fields = fields

    def get_on_hold(self, event: AdverseEvent) -> bool:
        return event.reviewed_at is None


class AdverseEventReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ReplanBodySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, help_text="Why the plan changes.")
    from_date = dates.DateField(
        required=False,
        help_text="Re-plan the remaining sessions from this clinic day (default: today, "
        "or the course's start date if later).",
    )
    dry_run = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Preview: run the same rules, change nothing, answer 200 with the plan.",
    )


class LengthenSerializer(ReplanBodySerializer):
    sessions = serializers.IntegerField(
        min_value=1, max_value=100, help_text="Sessions to add (the course stays within 100)."
    )


class SwitchProtocolSerializer(ReplanBodySerializer):
    protocol = ProtocolField(help_text="The new protocol's code (an id is accepted too).")


class CourseChangeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    sessions_added = serializers.IntegerField()
    from_protocol = serializers.CharField(
        source="from_protocol.code", allow_null=True, help_text="Switches: the old code."
    )
    to_protocol = serializers.CharField(
        source="to_protocol.code", allow_null=True, help_text="Switches: the new code."
    )
    replanned_from = dates.DateField()
    sessions_replanned = serializers.IntegerField()
    reason = serializers.CharField()
    by = serializers.IntegerField(source="by_id")
    at = dates.DateTimeField()
    in_words = serializers.CharField()


class ReplannedSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="Null in a preview.")
    starts_at = dates.DateTimeField()
    ends_at = dates.DateTimeField()
    chair = serializers.IntegerField(source="chair_id")
    kind = serializers.CharField()
    phase = serializers.IntegerField()


class ReplanSerializer(serializers.Serializer):
    """What a lengthening or protocol switch did (or, in a preview, would do)."""

    change = CourseChangeSerializer()
    released = ReplannedSessionSerializer(many=True, help_text="Bookings replaced.")
    booked = ReplannedSessionSerializer(many=True, help_text="The remaining sessions.")
