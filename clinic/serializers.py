from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import empty

from clinic import access, dates
from clinic.capabilities import Capability
from clinic.models import (
    PATIENT_DETAILS,
    ApiToken,
    Chair,
    ChairBlock,
    Clinic,
    Closure,
    Coil,
    OpeningHours,
    Patient,
    Role,
    validate_timezone,
)
from clinic.phones import normalize_phone

User = get_user_model()
# An id is a BigAutoField's: a positive bigint.
ID_MAXIMUM = 2**63 - 1


class WholeItemSerializer(serializers.Serializer):
    """Base for a serializer nested in another whose items replace the stored ones whole
    (a clinic's opening hours, a protocol's phases, ...): an item is validated whole even
    inside a PATCH of its parent. DRF skips a missing field anywhere under a partial
    root, which would hand the services half an item (and them a KeyError)."""

    def to_internal_value(self, data: Any) -> Any:
        root = self.root
        if root is self or not getattr(root, "partial", False) or not isinstance(data, Mapping):
            return super().to_internal_value(data)
        fields = list(self._writable_fields)
        missing: dict[str, list[ErrorDetail]] = {
            str(field.field_name): [
                ErrorDetail(str(field.error_messages["required"]), code="required")
            ]
            for field in fields
            if field.required and field.field_name not in data
        }
        if missing:
            raise serializers.ValidationError(missing)
        value = super().to_internal_value(data)
        for field in fields:  # a whole item's defaults (get_default() skips under a partial root)
            default = field.default
            if field.field_name in data or default is empty:
                continue
            if callable(default):
                default = (
                    default(field) if getattr(default, "requires_context", False) else default()
                )
            self.set_value(value, field.source_attrs, default)
        return value


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key limited to rows of the requesting user's clinics.

    Ids of other clinics' rows are answered exactly like ids that do not exist.
    """

    def __init__(self, clinic_lookup: str = "clinic", **kwargs: Any) -> None:
        self.clinic_lookup = clinic_lookup
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        queryset = cast(QuerySet[Any], super().get_queryset())  # always given one
        ids = access.clinic_ids(self.context["request"].user)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.clinic_lookup}__in": ids})


def clinic_field(**kwargs: Any) -> ScopedPrimaryKeyRelatedField:
    return ScopedPrimaryKeyRelatedField(clinic_lookup="id", queryset=Clinic.objects.all(), **kwargs)


class PhoneField(serializers.CharField):
    """Accepts a phone number in any common form; stores and returns E.164."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value == "":
            return value
        try:
            return normalize_phone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0], code="invalid_phone") from None


class TimezoneField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            validate_timezone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0], code="invalid_timezone") from None
        return value


class OpeningHoursSerializer(WholeItemSerializer, dates.BoundedModelSerializer):
    opens = serializers.TimeField(format="%H:%M", help_text="Clinic-local HH:MM.")
    closes = serializers.TimeField(format="%H:%M", help_text="Clinic-local HH:MM.")

    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["closes"] <= attrs["opens"]:
            raise serializers.ValidationError(
                {"closes": ["Closing time must be after opening time."]}, code="closes_before_opens"
            )
        return attrs


class ClinicSerializer(dates.BoundedModelSerializer):
    timezone = TimezoneField(help_text="IANA time zone, e.g. America/New_York.")
    phone = PhoneField(help_text="Any common format; returned in E.164.")
    opening_hours = OpeningHoursSerializer(many=True, required=False)

    class Meta:
        model = Clinic
        fields = [
            "id",
            "name",
            "slug",
            "timezone",
            "display_name",
            "phone",
            "npi",
            "tax_id",
            "opening_hours",
            "book_beyond_authorization",
            "escalation_minutes",
            "check_in_early_minutes",
            "motor_threshold_valid_days",
            "require_mfa_for_all_staff",
            "relapse_watch",
            "relapse_watch_weeks",
            "relapse_watch_months",
            "relapse_remitter_score",
            "relapse_rise",
        ]

    def validate_opening_hours(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        weekdays = [entry["weekday"] for entry in value]
        if len(weekdays) != len(set(weekdays)):
            raise serializers.ValidationError(
                "Each weekday may appear once.", code="duplicate_weekday"
            )
        return value


class ClosureSerializer(dates.BoundedModelSerializer):
    clinic = clinic_field()

    class Meta:
        model = Closure
        fields = ["id", "clinic", "date", "reason"]
        validators: list[Any] = []  # the service names the clashing field


class ChairSerializer(dates.BoundedModelSerializer):
    clinic = clinic_field()
    coils = serializers.ListField(
        child=serializers.ChoiceField(choices=Coil.choices),
        allow_empty=False,
        required=False,
        help_text="Coil types the chair's device can use (default: figure-8).",
    )

    class Meta:
        model = Chair
        fields = ["id", "clinic", "name", "device", "coils", "active"]
        validators: list[Any] = []  # the service names the clashing field


class ChairBlockSerializer(dates.BoundedModelSerializer):
    chair = ScopedPrimaryKeyRelatedField(queryset=Chair.objects.all())

    class Meta:
        model = ChairBlock
        fields = ["id", "chair", "starts_at", "ends_at", "reason"]
        extra_kwargs = {"ends_at": {"help_text": "After starts_at."}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        starts_at = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends_at = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts_at and ends_at and ends_at <= starts_at:
            raise serializers.ValidationError(
                {"ends_at": ["The block must end after it starts."]}, code="ends_before_starts"
            )
        return attrs


# Left out of the API's patient for whoever may not reach the patient
# (Capability.READ_PATIENT_CONTACT), as the patient pages leave them out.
CONTACT_DETAILS = ("phone", "email")


class PatientSerializer(dates.BoundedModelSerializer):
    clinic = clinic_field()
    phone = PhoneField(required=False, allow_blank=True, help_text="Returned in E.164.")

    class Meta:
        model = Patient
        fields = ["id", "clinic", *PATIENT_DETAILS]
        # The (clinic, mrn) uniqueness is checked by the service with a clear message.
        validators: list[Any] = []
        # Fields that depend on one another (validate below), said in the schema.
        extra_kwargs = {
            "sms_consent": {"help_text": "True needs a phone number."},
            "email_consent": {"help_text": "True needs an email address."},
            "date_of_birth": {"help_text": "Between 1900 and today."},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        def current(name: str) -> Any:
            return attrs.get(name, getattr(self.instance, name, None))

        errors: dict[str, list[str]] = {}
        if current("sms_consent") and not current("phone"):
            errors["sms_consent"] = ["SMS consent needs a phone number."]
        if current("email_consent") and not current("email"):
            errors["email_consent"] = ["Email consent needs an email address."]
        if errors:
            raise serializers.ValidationError(errors, code="consent_without_contact")
        return attrs

    def to_representation(self, instance: Patient) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not access.has_capability(
            request.user, instance.clinic_id, Capability.READ_PATIENT_CONTACT
        ):
            # Technicians see who the patient is, not how to reach them (as on the pages).
            for name in CONTACT_DETAILS:
                data.pop(name, None)
        return data


class MembershipSerializer(serializers.Serializer):
    clinic = serializers.IntegerField(source="clinic_id")
    role = serializers.ChoiceField(choices=Role.choices)


def visible_memberships(user: Any, context: Mapping[str, Any]) -> list[Any]:
    """The staff member's memberships in clinics the requesting user can see."""
    visible = access.clinic_ids(context["request"].user)
    return [m for m in user.memberships.all() if visible is None or m.clinic_id in visible]


SET_BY_THEIR_OWNER = (
    "Nobody sets another person's password. A new staff member gets an email with a "
    "one-time link to choose theirs; anyone can ask for a new link at /accounts/password/reset/."
)


class StaffRoleField(serializers.ChoiceField):
    def get_attribute(self, instance: Any) -> Any:
        memberships = visible_memberships(instance, self.context)
        return memberships[0].role if memberships else None


class StaffClinicsField(serializers.ListField):
    def get_attribute(self, instance: Any) -> Any:
        return [m.clinic_id for m in visible_memberships(instance, self.context)]


class StaffSerializer(dates.BoundedModelSerializer):
    role = StaffRoleField(
        choices=Role.choices, help_text="The staff member's role in the listed clinics."
    )
    clinics = StaffClinicsField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAXIMUM),
        allow_empty=False,
        error_messages={"empty": "Name at least one clinic."},
        help_text="Clinic ids.",
    )
    memberships = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "clinics",
            "memberships",
            "is_active",
        ]
        read_only_fields = ["is_active"]
        extra_kwargs = {
            "username": {"help_text": "Chosen when the person is added; never changed here."},
            "email": {
                "help_text": "Where their set-password link goes: needed to add a person, "
                "never changed here."
            },
        }

    @extend_schema_field(MembershipSerializer(many=True))
    def get_memberships(self, user: Any) -> list[dict[str, Any]]:
        return [
            {"clinic": m.clinic_id, "role": m.role} for m in visible_memberships(user, self.context)
        ]

    def validate_clinics(self, value: list[int]) -> list[Clinic]:
        if not value:
            raise serializers.ValidationError("Name at least one clinic.", code="required")
        # A clinic admin may name only clinics they administer; others look unknown.
        managed = access.clinic_ids_with(self.context["request"].user, Capability.MANAGE_STAFF)
        queryset = Clinic.objects.filter(id__in=set(value))
        if managed is not None:
            queryset = queryset.filter(id__in=managed)
        clinics = list(queryset)
        unknown = sorted(set(value) - {clinic.pk for clinic in clinics})
        if unknown:
            raise serializers.ValidationError(
                f"Unknown clinic id(s): {', '.join(map(str, unknown))}.", code="does_not_exist"
            )
        return clinics

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, Mapping) and "password" in self.initial_data:
            raise serializers.ValidationError(
                {"password": [SET_BY_THEIR_OWNER]}, code="password_not_settable"
            )
        if self.instance is None and not attrs.get("email"):
            raise serializers.ValidationError(
                {"email": ["A new staff member needs an email address for their password link."]},
                code="required",
            )
        if self.instance is not None and ("role" in attrs) != ("clinics" in attrs):
            raise serializers.ValidationError(
                {"role": ["Send role and clinics together."]}, code="role_with_clinics"
            )
        return attrs


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="The second factor's code (authenticator app or a recovery code), for "
        "accounts that have one or must have one.",
    )
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text=(
            'Names this device\'s token in your token list ("Front desk iPad"); '
            "default: after the client's User-Agent."
        ),
    )


class TokenSerializer(serializers.Serializer):
    """A new login's token: ``token`` is shown here once and never again."""

    token = serializers.CharField(
        read_only=True, help_text="Send as `Authorization: Bearer <token>`."
    )
    id = serializers.IntegerField(read_only=True, help_text="Its id in /api/v1/auth/tokens/.")
    name = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(read_only=True)
    expires = serializers.DateTimeField(read_only=True)


class ApiTokenSerializer(serializers.ModelSerializer):
    """One of your tokens (never the token itself)."""

    current = serializers.SerializerMethodField(help_text="The token this request was made with.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "created", "last_used", "expires", "current"]
        read_only_fields = fields

    def get_current(self, token: ApiToken) -> bool:
        request = self.context.get("request")
        in_use = getattr(request, "auth", None)
        return isinstance(in_use, ApiToken) and in_use.pk == token.pk
