"""Forms of the course actions on the course page: pause, resume, complete,
discontinue (each confirmed with what it does to the bookings), an authorization
added to a course, its plan changed, and a booster course after it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, Prefetch, Value, When

from clinic import dates
from clinic.models import Chair, Clinic
from courses.billing import BillingCode
from courses.forms import TIME_FLEX_CHOICES, DateInput, ProtocolChoiceField, TimeInput
from courses.models import Protocol, ProtocolPhase

KEEP, RELEASE = "keep", "release"


class PauseForm(forms.Form):
    from_date = dates.DateFormField(
        widget=DateInput, label="Pause from", help_text="The sessions from this day on."
    )
    bookings = forms.ChoiceField(
        label="The sessions booked from then on",
        choices=[
            (KEEP, "Keep them booked (the patient may come back before they come up)"),
            (RELEASE, "Release them (they are re-planned when the course resumes)"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ResumeForm(forms.Form):
    from_date = dates.DateFormField(
        widget=DateInput,
        label="Re-plan from",
        help_text="Released sessions are booked again from this day on.",
    )


class EndForm(forms.Form):
    """Complete (reason optional) or discontinue (reason required)."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, reason_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason_required = reason_required
        if reason_required:
            self.fields["reason"].help_text = "Required: why the course stops."

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if self.reason_required and not reason:
            raise ValidationError("Record why the course is discontinued.", code="required")
        return reason


class AuthorizationForm(forms.Form):
    payer = forms.CharField(max_length=120)
    number = forms.CharField(max_length=60, label="Authorization number")
    sessions_authorized = forms.IntegerField(min_value=1, max_value=200)
    valid_from = dates.DateFormField(widget=DateInput)
    valid_until = dates.DateFormField(widget=DateInput)
    # Optional scope by procedure code (docs/billing.md), one field per code.
    units_90867 = forms.IntegerField(
        min_value=1, max_value=200, required=False, label="Of which 90867 (initial, mapping)"
    )
    units_90868 = forms.IntegerField(
        min_value=1, max_value=200, required=False, label="Of which 90868 (treatment)"
    )
    units_90869 = forms.IntegerField(
        min_value=1,
        max_value=200,
        required=False,
        label="Of which 90869 (threshold re-determination)",
    )

    def terms(self) -> dict[str, Any]:
        """The authorization as the service takes it, with its code lines."""
        data = dict(self.cleaned_data)
        units = {code: data.pop(f"units_{code}") for code in BillingCode.values}
        codes = [{"code": code, "units": n} for code, n in units.items() if n is not None]
        return {**data, "codes": codes}


class ReplanForm(forms.Form):
    """A change to the course's plan: why, and from which day the remaining sessions
    are re-planned (each action previews first, as the resume page does)."""

    from_date = dates.DateFormField(
        widget=DateInput,
        label="Re-plan from",
        help_text="The sessions booked from this day on are replaced by the new plan.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        help_text="Required: why the plan changes (it goes on the course's timeline).",
    )


class LengthenForm(ReplanForm):
    sessions = forms.IntegerField(
        label="Sessions to add",
        min_value=1,
        max_value=100,
        help_text="They extend the treatment (or continuation) phase; a taper stays at the end.",
    )
    field_order = ["sessions", "from_date", "reason"]


class SwitchProtocolForm(ReplanForm):
    protocol: forms.ModelChoiceField[Protocol] = forms.ModelChoiceField(
        queryset=None, empty_label="Choose the new protocol"
    )
    field_order = ["protocol", "from_date", "reason"]

    def __init__(self, *args: Any, protocols: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["protocol"]
        field.queryset = protocols


class BoosterForm(forms.Form):
    """A booster course after an ended course: its protocol (a booster protocol,
    courses.course_plan), first day and time preferences; the rest of the prescription
    is the course followed's (scheduling.services.booster_book)."""

    protocol = ProtocolChoiceField(queryset=None, empty_label="Choose the booster's protocol")
    start_date = dates.DateFormField(
        widget=DateInput, label="First day", help_text="The day of the first session."
    )
    preferred_time = forms.TimeField(
        widget=TimeInput(format="%H:%M"),
        help_text="Clinic-local time; every session is booked at this time.",
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

    def __init__(
        self, *args: Any, clinic: Clinic, protocols: Sequence[Protocol], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        fields: Any = self.fields
        ids = [protocol.pk for protocol in protocols]
        in_order = Case(*(When(pk=pk, then=Value(n)) for n, pk in enumerate(ids)), default=0)
        fields["protocol"].queryset = (
            Protocol.objects.filter(pk__in=ids)
            .prefetch_related(Prefetch("phases", queryset=ProtocolPhase.objects.order_by("order")))
            .order_by(in_order, "id")  # as given (the seeded booster first)
        )
        fields["preferred_chair"].queryset = Chair.objects.filter(
            clinic=clinic, active=True
        ).order_by("name", "id")

    def clean_start_date(self) -> dt.date:
        start: dt.date = self.cleaned_data["start_date"]
        if start < self.clinic.today():
            raise ValidationError("The booster cannot start in the past.", code="past")
        return start
