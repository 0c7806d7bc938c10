"""The psychiatrist's prescribing form: the booking page's course fields for one
patient, prescribed by the viewer, with the primary instrument."""

from __future__ import annotations

from typing import Any

from django import forms

from clinic.models import Clinic, Patient
from courses.forms import CourseBookingForm
from courses.instruments import InstrumentCode
from courses.models import OPEN_STATUSES, CourseType, TreatmentCourse


class FollowedCourseField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        ended = obj.completed_on or (
            obj.status_changed_at.date() if obj.status_changed_at else None
        )
        when = f", ended {ended:%d %b %Y}" if ended else ""
        status = obj.get_status_display().lower()
        return f"{obj.get_type_display()} course, {obj.protocol.name} ({status}{when})"


class PrescribeForm(CourseBookingForm):
    type = forms.ChoiceField(
        label="Course type",
        choices=CourseType.choices,
        initial=CourseType.ACUTE,
        required=False,  # empty: acute
        help_text="Continuation, maintenance and booster courses follow an ended course.",
    )
    follows = FollowedCourseField(
        queryset=None,
        required=False,
        label="Follows",
        empty_label="None (a first acute course)",
        help_text="The patient's ended course this one follows.",
    )
    primary_instrument = forms.ChoiceField(
        choices=[("", "The indication's usual scale"), *InstrumentCode.choices],
        required=False,
        help_text="PHQ-9 for depression, GAD-7 for anxiety when left empty.",
    )

    def __init__(
        self, *args: Any, clinic: Clinic, patient: Patient, psychiatrist: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, clinic=clinic, **kwargs)
        del self.fields["patient"]
        del self.fields["psychiatrist"]
        self.for_patient = patient
        self.psychiatrist = psychiatrist
        followed: Any = self.fields["follows"]
        followed.queryset = (
            TreatmentCourse.objects.filter(patient=patient)
            .exclude(status__in=OPEN_STATUSES)
            .select_related("protocol")
            .order_by("-start_date", "-id")
        )

    def booking_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        self.cleaned_data = {**data, "patient": self.for_patient, "psychiatrist": self.psychiatrist}
        try:
            fields = super().booking_fields()
        finally:
            self.cleaned_data = data
        fields["primary_instrument"] = data.get("primary_instrument") or None
        fields["type"] = data.get("type") or CourseType.ACUTE
        fields["follows"] = data.get("follows")
        return fields
