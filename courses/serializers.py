from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic import access, dates
from clinic.capabilities import Capability
from clinic.models import Chair, Patient
from clinic.serializers import ScopedPrimaryKeyRelatedField, WholeItemSerializer, clinic_field
from courses import course_plan, selectors
from courses.billing import ICD10_ANCHORED, BillingCode
from courses.instruments import INSTRUMENTS, InstrumentCode
from courses.models import (
    Adherence,
    Assessment,
    Authorization,
    CourseType,
    FailedTrial,
    MotorThreshold,
    PhaseKind,
    Protocol,
    SafetyFlag,
    Screening,
    StaffAlert,
    TreatmentCourse,
    TrialOutcome,
)
from courses.protocol_bounds import (
    EVERY_WEEKS,
    MAX_INTENSITY_PCT_MT,
    MAX_PHASES,
    MAX_SESSIONS_PER_DAY,
    MAX_SESSIONS_TOTAL,
    MAX_SLOT_MINUTES,
)
from courses.protocol_field import ProtocolField

User = get_user_model()


class PhaseSerializer(WholeItemSerializer):
    sessions = serializers.IntegerField(min_value=1, max_value=MAX_SESSIONS_TOTAL)
    per_week = serializers.IntegerField(
        min_value=1, max_value=7, help_text="Treatment days a week."
    )
    every_weeks = serializers.ChoiceField(
        choices=EVERY_WEEKS,
        default=1,
        help_text="The phase runs one week in this many: 1, 2 or 4 (maintenance).",
    )
    kind = serializers.ChoiceField(choices=PhaseKind.choices, required=False)
    kind_label = serializers.CharField(
        source="get_kind_display", read_only=True, help_text="The phase's kind in words."
    )


class ProtocolSerializer(dates.BoundedModelSerializer):
    clinic = clinic_field(required=False, allow_null=True, help_text="Null for the shared catalog.")
    # many=True hands max_length to the ListSerializer (the stubs do not know it).
    phases = PhaseSerializer(  # type: ignore[call-arg]
        many=True,
        allow_empty=False,
        max_length=MAX_PHASES,
        error_messages={"empty": "A protocol needs at least one phase."},
    )
    sessions_total = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_SESSIONS_TOTAL,
        help_text="Checked against the phases when sent.",
    )
    frequency_hz = serializers.DecimalField(max_digits=5, decimal_places=1, coerce_to_string=False)

    class Meta:
        model = Protocol
        fields = [
            "id",
            "clinic",
            "code",
            "name",
            "slot_minutes",
            "mapping_minutes",
            "mapping_schedule",
            "sessions_total",
            "phases",
            "sessions_per_day",
            "min_gap_minutes",
            "stimulation",
            "frequency_hz",
            "pulses_per_session",
            "intensity_pct_mt",
            "target",
            "coil",
            "treatment_minutes",
            "active",
        ]
        validators: list[Any] = []
        minutes = ("slot_minutes", "mapping_minutes", "min_gap_minutes", "treatment_minutes")
        extra_kwargs = {
            "sessions_per_day": {"min_value": 1, "max_value": MAX_SESSIONS_PER_DAY},
            **{name: {"max_value": MAX_SLOT_MINUTES} for name in minutes},
            # The database's protocol_slot_lengths and protocol_intensity_range, as 400s.
            "slot_minutes": {"min_value": 1, "max_value": MAX_SLOT_MINUTES},
            "intensity_pct_mt": {"min_value": 1, "max_value": MAX_INTENSITY_PCT_MT},
        }

    def to_representation(self, instance: Protocol) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["sessions_total"] = selectors.sessions_total(instance)
        return data


class FailedTrialSerializer(WholeItemSerializer, dates.BoundedModelSerializer):
    adherence = serializers.ChoiceField(choices=Adherence.choices, default=Adherence.FULL)
    outcome = serializers.ChoiceField(choices=TrialOutcome.choices)
    adequate = serializers.BooleanField(read_only=True)

    class Meta:
        model = FailedTrial
        fields = ["drug", "dose", "weeks", "adherence", "outcome", "adequate"]


class AnswersSerializer(serializers.Serializer):
    metal_in_head = serializers.BooleanField(default=False)
    cochlear_implant = serializers.BooleanField(default=False)
    brain_stimulator = serializers.BooleanField(default=False)
    magnetic_implant_near_coil = serializers.BooleanField(default=False)
    seizure_history = serializers.BooleanField(default=False)
    implanted_devices = serializers.BooleanField(default=False)
    head_injury_with_loc = serializers.BooleanField(default=False)
    pregnancy = serializers.BooleanField(default=False)
    prior_tms = serializers.BooleanField(default=False)
    prior_tms_problems = serializers.BooleanField(default=False)
    current_medications = serializers.CharField(default="", allow_blank=True)
    notes = serializers.CharField(default="", allow_blank=True)


# Without READ_CLINICAL_DETAIL a screening shows whether a patient may be treated, not why.
STATUS_ONLY_FIELDS = ("id", "patient", "status", "decided_by", "decided_at", "created_at")


def sees_clinical_detail(context: Any, clinic_id: int) -> bool:
    return access.has_capability(
        context["request"].user, clinic_id, Capability.READ_CLINICAL_DETAIL
    )


class ScreeningSerializer(dates.BoundedModelSerializer):
    patient = ScopedPrimaryKeyRelatedField(clinic_lookup="clinic", queryset=Patient.objects.all())
    failed_trials = FailedTrialSerializer(many=True, required=False)
    answers = AnswersSerializer(source="*", required=False)
    adequate_trials = serializers.SerializerMethodField()
    required_trials = serializers.SerializerMethodField()
    absolute_contraindications = serializers.ListField(
        child=serializers.CharField(), read_only=True
    )
    relative_contraindications = serializers.ListField(
        child=serializers.CharField(), read_only=True
    )

    class Meta:
        model = Screening
        fields = [
            "id",
            "patient",
            "failed_trials",
            "answers",
            "status",
            "adequate_trials",
            "required_trials",
            "absolute_contraindications",
            "relative_contraindications",
            "decided_by",
            "decided_at",
            "decision_reason",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = [
            "status",
            "decided_by",
            "decided_at",
            "decision_reason",
            "recorded_by",
            "created_at",
        ]

    def to_representation(self, instance: Screening) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not sees_clinical_detail(self.context, instance.patient.clinic_id):
            data = {name: data[name] for name in STATUS_ONLY_FIELDS}
        return data

    def get_adequate_trials(self, screening: Screening) -> int:
        return sum(1 for trial in screening.failed_trials.all() if trial.adequate)

    def get_required_trials(self, screening: Screening) -> int:
        return screening.patient.clinic.required_failed_trials


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, default="", max_length=2000)


class AuthorizationCodeSerializer(WholeItemSerializer):
    code = serializers.ChoiceField(choices=BillingCode.values, help_text="CPT code.")
    units = serializers.IntegerField(min_value=1, max_value=MAX_SESSIONS_TOTAL)


class AuthorizationSerializer(WholeItemSerializer, dates.BoundedModelSerializer):
    codes = AuthorizationCodeSerializer(
        many=True,
        required=False,
        help_text="Optional scope by procedure code, e.g. 36 x 90868 and 1 x 90867; each "
        "code's remaining units are counted on their own (docs/billing.md).",
    )

    class Meta:
        model = Authorization
        fields = [
            *("id", "payer", "number", "sessions_authorized", "valid_from", "valid_until"),
            "codes",
        ]
        extra_kwargs = {"valid_until": {"help_text": "On or after valid_from."}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["valid_until"] < attrs["valid_from"]:
            raise serializers.ValidationError(
                {"valid_until": ["An authorization cannot end before it starts."]}
            )
        return attrs


class PsychiatristField(ScopedPrimaryKeyRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(clinic_lookup="memberships__clinic", queryset=User.objects.all(), **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        return super().get_queryset().distinct()


class CourseSerializer(dates.BoundedModelSerializer):
    patient = ScopedPrimaryKeyRelatedField(clinic_lookup="clinic", queryset=Patient.objects.all())
    psychiatrist = PsychiatristField(help_text="A staff id (see /api/v1/staff/).")
    protocol = ProtocolField(help_text="Protocol code (an id is accepted too).")
    preferred_time = serializers.TimeField(format="%H:%M", help_text="Clinic-local HH:MM.")
    diagnosis_code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=8,
        validators=[
            RegexValidator(
                ICD10_ANCHORED,
                message="Enter an ICD-10-CM code such as F33.2.",
                code="invalid_diagnosis_code",
            )
        ],
        help_text="ICD-10-CM code billed, e.g. F33.2; empty: the indication's default.",
    )
    preferred_chair = ScopedPrimaryKeyRelatedField(
        clinic_lookup="clinic", queryset=Chair.objects.all(), required=False, allow_null=True
    )
    primary_instrument = serializers.ChoiceField(
        choices=InstrumentCode.choices,
        required=False,
        help_text="Defaults to PHQ-9 (GAD-7 for a GAD indication).",
    )
    authorization = AuthorizationSerializer(
        required=False,
        allow_null=True,
        help_text="The most recent authorization; send one on create to record it.",
    )
    authorizations = AuthorizationSerializer(many=True, read_only=True)
    type = serializers.ChoiceField(
        choices=CourseType.choices,
        default=CourseType.ACUTE,
        help_text="Set on create. Continuation, maintenance and booster courses name "
        "the course they follow.",
    )
    follows = ScopedPrimaryKeyRelatedField(
        clinic_lookup="patient__clinic",
        queryset=TreatmentCourse.objects.all(),
        required=False,
        allow_null=True,
        help_text="The same patient's ended course this one follows (set on create).",
    )
    sessions_total = serializers.SerializerMethodField()
    window_end_date = serializers.SerializerMethodField()
    tracked_instruments = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = TreatmentCourse
        fields = [
            "id",
            "patient",
            "psychiatrist",
            "protocol",
            "type",
            "follows",
            "added_sessions",
            "indication",
            "diagnosis_code",
            "primary_instrument",
            "tracked_instruments",
            "start_date",
            "preferred_time",
            "preferred_chair",
            "prescribed_pulses",
            "prescribed_intensity_pct_mt",
            "prescribed_coil_position",
            "status",
            "status_reason",
            "completed_on",
            "risk_level",
            "sessions_total",
            "window_end_date",
            "authorization",
            "authorizations",
            "created_at",
        ]
        read_only_fields = [
            "status",
            "status_reason",
            "completed_on",
            "risk_level",
            "added_sessions",
            "created_at",
        ]
        # One open course per patient is checked by the service (409 course_exists).
        validators: list[Any] = []

    def get_sessions_total(self, course: TreatmentCourse) -> int:
        return course_plan.course_sessions_total(course)

    def get_window_end_date(self, course: TreatmentCourse) -> Any:
        return selectors.window_end_date(course)

    def to_representation(self, instance: TreatmentCourse) -> dict[str, Any]:
        data = super().to_representation(instance)
        authorizations = data["authorizations"]
        data["authorization"] = authorizations[-1] if authorizations else None
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (
            self.instance is not None
            and "patient" in attrs
            and attrs["patient"] != self.instance.patient
        ):
            raise serializers.ValidationError(
                {"patient": ["A course cannot move to another patient."]}
            )
        if self.instance is not None and {"type", "follows"} & set(self.initial_data):
            raise serializers.ValidationError(
                {"type": ["A course's type and the course it follows are set when it is created."]}
            )
        if self.instance is not None:
            attrs.pop("type", None)  # the create-only default, on a PUT
        if self.instance is not None and "authorization" in attrs:
            raise serializers.ValidationError(
                {"authorization": ["Add authorizations with POST .../authorizations/."]}
            )
        return attrs


class TransitionSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, default="", max_length=2000)


class MotorThresholdSerializer(dates.BoundedModelSerializer):
    course = ScopedPrimaryKeyRelatedField(
        clinic_lookup="patient__clinic", queryset=TreatmentCourse.objects.all()
    )

    class Meta:
        model = MotorThreshold
        fields = [
            "id",
            "course",
            "measured_on",
            "machine_output_pct",
            "method",
            "measured_by",
            "notes",
            "created_at",
        ]
        read_only_fields = ["measured_by", "created_at"]
        extra_kwargs = {"machine_output_pct": {"min_value": 1, "max_value": 100}}


# What the instruments accept, for the schema's descriptions (the service checks them).
INSTRUMENT_RANGES = ", ".join(f"{i.name} 0-{i.max_total}" for i in INSTRUMENTS.values())
INSTRUMENT_ITEMS = ", ".join(f"{i.name} {len(i.item_maxima)}" for i in INSTRUMENTS.values())


class AssessmentSerializer(dates.BoundedModelSerializer):
    course = ScopedPrimaryKeyRelatedField(
        clinic_lookup="patient__clinic", queryset=TreatmentCourse.objects.all()
    )
    instrument = serializers.ChoiceField(choices=InstrumentCode.choices)
    score = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="Computed from the items when they are sent; send the score, the items "
        f"or both. Within the instrument's range: {INSTRUMENT_RANGES}.",
    )
    items = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        allow_null=True,
        help_text="Item scores in the instrument's order, as many as it has items "
        f"({INSTRUMENT_ITEMS}), each from 0 to the item's maximum.",
    )
    suicide_item = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=(
            "The answer to the scale's suicide item (PHQ-9 item 9, HAM-D17 item 3, MADRS "
            "item 10, BDI-II item 9). Required when the items are not sent; taken from "
            "them when they are."
        ),
    )
    severity = serializers.SerializerMethodField()
    safety_flag = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = [
            "id",
            "course",
            "instrument",
            "score",
            "items",
            "suicide_item",
            "severity",
            "safety_flag",
            "administered_on",
            "source",
            "recorded_by",
            "created_at",
        ]
        # The API records the clinic's scores; patients report theirs from the relapse
        # watch's page (docs/relapse-watch.md).
        read_only_fields = ["source", "recorded_by", "created_at"]

    def to_representation(self, instance: Assessment) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not sees_clinical_detail(self.context, instance.course.patient.clinic_id):
            # Item answers (PHQ-9 item 9 asks about self-harm) stay with clinicians.
            data.pop("items")
            data.pop("suicide_item")
        return data

    def get_severity(self, assessment: Assessment) -> str:
        return INSTRUMENTS[assessment.instrument].severity(assessment.score)

    @extend_schema_field(serializers.BooleanField())
    def get_safety_flag(self, assessment: Assessment) -> bool:
        return hasattr(assessment, "safety_flag")


class SafetyFlagSerializer(dates.BoundedModelSerializer):
    class Meta:
        model = SafetyFlag
        fields = [
            "id",
            "course",
            "assessment",
            "item_value",
            "raised_at",
            "raised_by",
            "acknowledged_at",
            "acknowledged_by",
        ]
        read_only_fields = fields


class StaffAlertSerializer(dates.BoundedModelSerializer):
    class Meta:
        model = StaffAlert
        fields = [
            "id",
            "course",
            "kind",
            "detail",
            "created_at",
            "acknowledged_at",
            "settled_reason",
        ]
        read_only_fields = fields
