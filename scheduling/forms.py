"""Forms of the scheduling staff pages: they check what a person typed; the services
check the rules (state, overlaps, opening hours) and answer with a conflict."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from clinic import dates
from clinic.models import Chair, Clinic
from courses.prescription import PULSES_TOLERANCE_PCT, Prescription
from scheduling.models import ReviewDecision, SideEffect


class DayForm(forms.Form):
    """``?date=YYYY-MM-DD`` of a day page; absent means the clinic's today. The shared
    field keeps it within clinic.dates' range, far from the calendar's ends."""

    date = dates.DateFormField(required=False, input_formats=["%Y-%m-%d"])


class UndoForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        error_messages={"required": "Say why the mark is undone."},
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        error_messages={"required": "Give a reason for cancelling."},
    )


class MoveForm(forms.Form):
    """One chosen slot: ``<chair id>|<ISO start with offset>`` (the value of the button
    pressed on the move page)."""

    slot = forms.CharField(max_length=80, error_messages={"required": "Choose a new time."})

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic

    def clean_slot(self) -> tuple[Chair, dt.datetime]:
        chair_part, _, start_part = self.cleaned_data["slot"].partition("|")
        try:
            chair_id = int(chair_part)
            starts_at = dt.datetime.fromisoformat(start_part)
        except ValueError:
            raise forms.ValidationError("That time could not be read.", code="invalid") from None
        if starts_at.tzinfo is None:
            raise forms.ValidationError("That time has no time zone.", code="invalid")
        dates.validate_date_in_range(starts_at)
        chair = Chair.objects.filter(clinic=self.clinic, pk=chair_id).first()
        if chair is None:
            raise forms.ValidationError("Choose a chair of this clinic.", code="invalid_chair")
        return chair, starts_at


class CompleteForm(forms.Form):
    """The treatment record of a checked-in session, as typed. Its limits are
    TreatmentRecord's, checked by scheduling.services.session_complete for the API and
    this page alike."""

    pulses_delivered = forms.IntegerField(label="Pulses delivered")
    intensity_pct_mt = forms.IntegerField(label="Intensity (% of motor threshold)")
    coil_position = forms.CharField(label="Coil position")
    side_effects = forms.MultipleChoiceField(
        choices=SideEffect.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Side effects",
    )
    side_effects_other = forms.CharField(required=False, label="Other side effects")
    adverse_event = forms.BooleanField(required=False, label="Adverse event")
    notes = forms.CharField(required=False, label="Notes", widget=forms.Textarea(attrs={"rows": 2}))
    deviation_reason = forms.CharField(
        required=False,
        label="Reason for any deviation from the prescription",
        help_text=(
            f"Needed when pulses are more than {PULSES_TOLERANCE_PCT}% off the prescription, "
            "the intensity is above it or the coil position differs."
        ),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    @classmethod
    def starting_from(cls, prescription: Prescription, *, prefix: str) -> CompleteForm:
        """An empty record that starts from what the course prescribes."""
        return cls(
            prefix=prefix,
            initial={
                "pulses_delivered": prescription.pulses,
                "intensity_pct_mt": prescription.intensity_pct_mt,
                "coil_position": prescription.form_coil_position,
            },
        )


class ClosureForm(forms.Form):
    date = dates.DateFormField(
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].widget.attrs["min"] = today.isoformat()
        # Past dates are refused by clinic.services.closure_save, for the API too.


class AdverseEventReviewForm(forms.Form):
    """A psychiatrist's decision on an adverse event (the service checks the rules)."""

    decision = forms.ChoiceField(choices=ReviewDecision.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when the parameters change: say which and how.",
    )
