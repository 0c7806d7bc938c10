"""The psychiatrist's prescribing form: the booking page's course fields for one
patient, prescribed by the viewer, with the primary instrument."""

from __future__ import annotations

from typing import Any

from django import forms

from clinic.models import Clinic, Patient
from courses.forms import CourseBookingForm
from courses.instruments import InstrumentCode


class PrescribeForm(CourseBookingForm):
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

    def booking_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        self.cleaned_data = {**data, "patient": self.for_patient, "psychiatrist": self.psychiatrist}
        try:
            fields = super().booking_fields()
        finally:
            self.cleaned_data = data
        fields["primary_instrument"] = data.get("primary_instrument") or None
        return fields
