from __future__ import annotations

from typing import Any

from rest_framework import serializers

from clinic import dates
from clinic.models import Patient
from clinic.serializers import ScopedPrimaryKeyRelatedField
from notifications.models import ConsentEvent, Notification, ReminderPolicy


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
