"""The relapse watch in the API (docs/relapse-watch.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from courses import relapse, relapse_selectors
from courses.models import Relapse, RelapseWatch, WatchPoint


class WatchPointSerializer(serializers.ModelSerializer[WatchPoint]):
    state = serializers.SerializerMethodField(
        help_text="open, answered, expired, not_yet (before its day) or stopped."
    )
    score = serializers.SerializerMethodField(help_text="The PHQ-9 total answered, if any.")

    class Meta:
        model = WatchPoint
        fields = ["number", "due_on", "expires_on", "state", "answered_at", "score"]
        read_only_fields = fields

    def get_state(self, point: WatchPoint) -> str:
        return str(relapse.point_state(point, self.context["today"]))

    def get_score(self, point: WatchPoint) -> int | None:
        return point.assessment.score if point.assessment is not None else None


class RelapseWatchSerializer(serializers.ModelSerializer[RelapseWatch]):
    points = serializers.SerializerMethodField()

    class Meta:
        model = RelapseWatch
        fields = ["course", "started_on", "active", "stopped_reason", "points"]
        read_only_fields = fields

    def get_points(self, watch: RelapseWatch) -> list[dict[str, Any]]:
        context = {"today": watch.course.patient.clinic.today()}
        return WatchPointSerializer(watch.points.all(), many=True, context=context).data  # type: ignore[return-value]


class RelapseSerializer(serializers.ModelSerializer[Relapse]):
    patient = serializers.IntegerField(source="course.patient_id", read_only=True)
    reported_on = serializers.DateField(source="assessment.administered_on", read_only=True)
    booster_url = serializers.SerializerMethodField(
        help_text="The course page's booster action (preview, then book)."
    )

    class Meta:
        model = Relapse
        fields = [
            "id",
            "course",
            "patient",
            "assessment",
            "rule",
            "score",
            "baseline",
            "reported_on",
            "detected_at",
            "closed_at",
            "closed_by",
            "close_note",
            "booster_url",
        ]
        read_only_fields = fields

    def get_booster_url(self, row: Relapse) -> str:
        return relapse_selectors.booster_url(row.course_id)


class RelapseCloseSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
