"""Forms of the courses staff pages. They parse and check what a person typed; the
rules of booking and recording live in the services."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from clinic import dates
from clinic.models import Chair, Clinic
from courses import selectors
from courses.instruments import InstrumentCode
from courses.models import Indication, MotorThresholdMethod, ScreeningStatus

SCREENING_WORDS = {
    ScreeningStatus.CLEARED: "screening cleared",
    ScreeningStatus.PENDING: "screening pending",
    ScreeningStatus.CONTRAINDICATED: "contraindicated",
    None: "no screening",
}

TIME_FLEX_CHOICES = [
    (0, "Exactly at the preferred time"),
    (15, "Up to 15 minutes earlier or later"),
    (30, "Up to 30 minutes earlier or later"),
    (60, "Up to an hour earlier or later"),
]

AUTHORIZATION_FIELDS = ("payer", "authorization_number", "sessions_authorized", "valid_from")
# The booking page's patient picker lists this many patients at most: a clinic with
# thousands of patients is searched, not scrolled.
PATIENT_PICKER_SIZE = 50


@dataclass(frozen=True)
class PatientPicker:
    """What the patient picker offers: (value, label) options, the chosen value, and a
    sentence on what the list holds (empty when it holds every patient)."""

    options: list[tuple[str, str]]
    selected: str
    note: str


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        status = SCREENING_WORDS.get(getattr(obj, "screening_status", None), "screening pending")
        open_course = " · has an open course" if getattr(obj, "open_course_id", None) else ""
        return f"{obj.last_name}, {obj.first_name} · {obj.mrn} · {status}{open_course}"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


class ProtocolChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        total = selectors.sessions_total(obj)
        return f"{obj.name} · {total} sessions · {obj.slot_minutes} min"


class CourseBookingForm(forms.Form):
    """Everything needed to create a course and book all its sessions at once."""

    patient = PatientChoiceField(queryset=None, empty_label="Choose a patient")
    protocol = ProtocolChoiceField(queryset=None, empty_label="Choose a protocol")
    psychiatrist = PersonChoiceField(
        queryset=None, empty_label="Choose the prescribing psychiatrist"
    )
    indication = forms.ChoiceField(choices=[("", "Choose the indication"), *Indication.choices])
    start_date = dates.DateFormField(widget=DateInput, help_text="The day of the mapping session.")
    preferred_time = forms.TimeField(
        widget=TimeInput, help_text="Clinic-local time; every session is booked at this time."
    )
    preferred_chair: forms.ModelChoiceField[Chair] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Any free chair"
    )
    time_flex_minutes = forms.TypedChoiceField(
        label="Time flexibility",
        choices=TIME_FLEX_CHOICES,
        coerce=int,
        initial=0,
        help_text="Lets a session move to find a free chair when the preferred time is taken.",
    )
    payer = forms.CharField(max_length=120, required=False)
    authorization_number = forms.CharField(max_length=60, required=False)
    sessions_authorized = forms.IntegerField(min_value=1, max_value=200, required=False)
    valid_from = dates.DateFormField(widget=DateInput, required=False)
    valid_until = dates.DateFormField(widget=DateInput, required=False)

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        fields: Any = self.fields
        # Any patient of the clinic is valid; patient_picker() decides what is listed.
        fields["patient"].queryset = selectors.patients_for_booking(clinic.pk)
        fields["protocol"].queryset = selectors.bookable_protocols(clinic.pk)
        fields["psychiatrist"].queryset = selectors.clinic_psychiatrists(clinic.pk)
        fields["preferred_chair"].queryset = Chair.objects.filter(
            clinic=clinic, active=True
        ).order_by("name", "id")

    def patient_picker(self, query: str = "") -> PatientPicker:
        """The patients matching ``query`` (name or MRN words), first by name, at most
        PATIENT_PICKER_SIZE of them, and the chosen patient even when not among them."""
        field: Any = self.fields["patient"]
        selected = str(self["patient"].value() or "")
        query = query.strip()
        matching = list(
            selectors.patients_for_booking(self.clinic.pk, query)[: PATIENT_PICKER_SIZE + 1]
        )
        more = len(matching) > PATIENT_PICKER_SIZE
        listed = matching[:PATIENT_PICKER_SIZE]
        if selected.isdigit() and all(str(patient.pk) != selected for patient in listed):
            listed[:0] = field.queryset.filter(pk=int(selected))
        if query and not matching:
            note = f"No patient matches “{query}”."
        elif query and more:
            note = (
                f"More than {PATIENT_PICKER_SIZE} patients match “{query}”; the first "
                f"{PATIENT_PICKER_SIZE} by name are listed. Type more of the name or the MRN."
            )
        elif query:
            note = f"{len(matching)} patient{'s' if len(matching) != 1 else ''} match “{query}”."
        elif more:
            note = (
                f"The first {PATIENT_PICKER_SIZE} patients by name are listed; search by "
                "name or MRN to find the others."
            )
        else:
            note = ""
        options = [(str(patient.pk), field.label_from_instance(patient)) for patient in listed]
        return PatientPicker(options, selected, note)

    def clean_start_date(self) -> dt.date:
        start: dt.date = self.cleaned_data["start_date"]
        if start < self.clinic.today():
            raise ValidationError("The course cannot start in the past.", code="past")
        return start

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = [name for name in (*AUTHORIZATION_FIELDS, "valid_until") if data.get(name)]
        if given and len(given) < len(AUTHORIZATION_FIELDS) + 1:
            raise ValidationError(
                "Fill in every authorization field (payer, number, sessions, valid from and "
                "until), or leave them all empty.",
                code="authorization_incomplete",
            )
        if given and data["valid_until"] < data["valid_from"]:
            self.add_error("valid_until", "An authorization cannot end before it starts.")
        return data

    def booking_fields(self) -> dict[str, Any]:
        """The ``course_book`` arguments, without the time flex."""
        data = self.cleaned_data
        fields: dict[str, Any] = {
            name: data[name]
            for name in (
                "patient",
                "psychiatrist",
                "protocol",
                "indication",
                "start_date",
                "preferred_time",
                "preferred_chair",
            )
        }
        if data.get("payer"):
            fields["authorization"] = {
                "payer": data["payer"],
                "number": data["authorization_number"],
                "sessions_authorized": data["sessions_authorized"],
                "valid_from": data["valid_from"],
                "valid_until": data["valid_until"],
            }
        return fields


ITEM_SEPARATORS = re.compile(r"[\s,;]+")


class AssessmentForm(forms.Form):
    """A score as typed; courses.services.assessment_record checks it (the API's rules)."""

    instrument = forms.ChoiceField(choices=InstrumentCode.choices)
    administered_on = dates.DateFormField(widget=DateInput, label="Date given")
    score = forms.IntegerField(
        label="Total score", min_value=0, required=False, help_text="Or enter the items below."
    )
    items = forms.CharField(
        label="Item answers",
        required=False,
        max_length=200,
        help_text="In the questionnaire's order, separated by spaces or commas "
        "(PHQ-9: 9 answers 0-3; item 9 above 0 raises a safety flag).",
    )
    suicide_item = forms.IntegerField(
        label="Answer to the suicide item",
        required=False,
        help_text="PHQ-9 item 9, HAM-D17 item 3, MADRS item 10 or BDI-II item 9: needed "
        "when you enter the total only.",
    )

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        if not self.is_bound:
            self.initial.setdefault("administered_on", clinic.today())

    def clean_items(self) -> list[int] | None:
        text = self.cleaned_data["items"].strip()
        if not text:
            return None
        try:
            return [int(part) for part in ITEM_SEPARATORS.split(text) if part]
        except ValueError:
            raise ValidationError(
                "Enter whole numbers separated by spaces or commas.", code="invalid"
            ) from None


class MotorThresholdForm(forms.Form):
    measured_on = dates.DateFormField(widget=DateInput, label="Measured on")
    machine_output_pct = forms.IntegerField(
        label="Motor threshold (% of machine output)", min_value=1, max_value=100
    )
    method = forms.ChoiceField(choices=MotorThresholdMethod.choices)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        if not self.is_bound:
            self.initial.setdefault("measured_on", clinic.today())


class PrescriptionForm(forms.Form):
    """What the psychiatrist prescribes for each session where it differs from the
    protocol (an empty field: the protocol's value)."""

    prescribed_pulses = forms.IntegerField(
        label="Pulses per session", min_value=1, max_value=100_000, required=False
    )
    prescribed_intensity_pct_mt = forms.IntegerField(
        label="Intensity (% of motor threshold)", min_value=1, max_value=200, required=False
    )
    prescribed_coil_position = forms.CharField(
        label="Coil position", max_length=120, required=False, help_text="e.g. F3 (Beam method)"
    )

    @classmethod
    def for_course(cls, course: Any) -> PrescriptionForm:
        return cls(
            initial={
                "prescribed_pulses": course.prescribed_pulses,
                "prescribed_intensity_pct_mt": course.prescribed_intensity_pct_mt,
                "prescribed_coil_position": course.prescribed_coil_position,
            }
        )
