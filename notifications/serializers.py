from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from clinic import dates
from clinic.models import Patient
from clinic.schema import DATE_PATTERN
from clinic.serializers import ScopedPrimaryKeyRelatedField
from notifications.models import ConsentEvent, Notification, ReminderPolicy


class SignedOnField(dates.DateField):
    """The day a written consent was signed: required in a request, null in the answers
    for a consent given another way (a text's STOP, the patient's page)."""


class SignedOnFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "notifications.serializers.SignedOnField"
    priority = 1  # before clinic.schema's, for every bounded date

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = DATE_PATTERN
        else:
            schema["nullable"] = True
        return schema


class NotificationSerializer(dates.BoundedModelSerializer):
    class Meta:
        model = Notification
        fields = [
            "id",
            "patient",
            "session",
            "channel",
            "kind",
            "status",
            "reason",
            "scheduled_for",
            "sent_at",
            "delivered_at",
            "attempts",
        ]
        read_only_fields = fields


class ReminderPolicySerializer(dates.BoundedModelSerializer):
    id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Null while the clinic uses the defaults."
    )
    window_start = serializers.TimeField(format="%H:%M")
    window_end = serializers.TimeField(format="%H:%M")
    day_before_at = serializers.TimeField(format="%H:%M")

    class Meta:
        model = ReminderPolicy
        fields = [
            "id",
            "clinic",
            "course_booked",
            "first_session",
            "session_moved",
            "day_before",
            "same_day",
            "missed_followup",
            "makeup_booked",
            "session_cancelled",
            "every_day",
            "day_before_at",
            "same_day_minutes_before",
            "window_start",
            "window_end",
            "sms_per_day",
            "sms_per_week",
            "email_per_day",
            "email_per_week",
        ]
        read_only_fields = ["id", "clinic"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("window_start", getattr(self.instance, "window_start", None))
        end = attrs.get("window_end", getattr(self.instance, "window_end", None))
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError(
                {"window_end": ["The send window must end after it starts."]}
            )
        return attrs


class ConsentEventSerializer(dates.BoundedModelSerializer):
    """An entry of the consent ledger. Staff add one for a consent the patient gave (or
    withdrew) in writing: the form they signed and the day; the rest is read-only."""

    patient = ScopedPrimaryKeyRelatedField(queryset=Patient.objects.all())

    class Meta:
        model = ConsentEvent
        fields = [
            "id",
            "patient",
            "channel",
            "granted",
            "source",
            "document",
            "given_on",
            "text_version",
            "recorded_by",
            "at",
        ]
        read_only_fields = ["source", "text_version", "recorded_by", "at"]
        # A written consent names its form and the day it was signed (the service's
        # _check_written, whose words these are), so the schema says both are required.
        extra_kwargs = {
            "document": {
                "required": True,
                "allow_blank": False,
                "error_messages": {
                    "required": "Name the form the patient signed.",
                    "blank": "Name the form the patient signed.",
                },
            },
        }

    given_on = SignedOnField(
        required=True,
        error_messages={
            "required": "Give the day it was signed.",
            "null": "Give the day it was signed.",
        },
    )
