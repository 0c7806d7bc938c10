"""The outcomes report's query and answers, and one course's outcome per instrument
(the API's shapes; the figures are computed by courses.selectors)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from clinic import dates
from clinic.serializers import clinic_field
from courses.instruments import InstrumentCode


class OutcomeQuerySerializer(serializers.Serializer):
    clinic = clinic_field()
    date_from = dates.DateField()
    date_to = dates.DateField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs


class OutcomeRowSerializer(serializers.Serializer):
    protocol = serializers.CharField()
    indication = serializers.CharField()
    completed = serializers.IntegerField()
    evaluable = serializers.IntegerField(help_text="Courses with a baseline and a later score.")
    responders = serializers.IntegerField()
    remitters = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)
    remission_rate = serializers.FloatField(allow_null=True)


class OutcomeSummarySerializer(serializers.Serializer):
    clinic = serializers.IntegerField()
    date_from = dates.DateField()
    date_to = dates.DateField()
    rows = OutcomeRowSerializer(many=True)


class OutcomeScoreSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The assessment.")
    score = serializers.IntegerField()
    administered_on = dates.DateField()


class InstrumentOutcomeSerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(choices=InstrumentCode.choices)
    baseline = OutcomeScoreSerializer(allow_null=True)
    latest = OutcomeScoreSerializer(allow_null=True)
    severity = serializers.CharField(allow_null=True)
    response = serializers.BooleanField(allow_null=True)
    remission = serializers.BooleanField(allow_null=True)


class CourseOutcomeSerializer(serializers.Serializer):
    instruments = InstrumentOutcomeSerializer(many=True)
