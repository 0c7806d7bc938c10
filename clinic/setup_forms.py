"""Forms of the clinic set-up pages (clinic/setup_views.py). They check the shape of
what was typed; the rules are the services' (clinic.services), whose refusals land on
the form through clinic.web.refusal_on_form."""

from __future__ import annotations

import zoneinfo
from dataclasses import replace
from functools import cache
from typing import Any

from django import forms

from clinic.errors import Refusal
from clinic.models import Chair, Clinic, Coil, Role, Weekday
from clinic.phones import normalize_phone


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class _PhoneField(forms.CharField):
    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not text:
            return str(text)
        return normalize_phone(text)  # its ValidationError lands on the field


class ClinicSettingsForm(forms.ModelForm):
    timezone = forms.ChoiceField(label="Time zone", choices=timezone_choices)
    phone = _PhoneField(max_length=30, help_text="Any common format; kept in E.164.")

    class Meta:
        model = Clinic
        fields = [
            "name",
            "display_name",
            "phone",
            "timezone",
            "npi",
            "tax_id",
            "required_failed_trials",
            "course_window_grace_weeks",
            "missed_grace_minutes",
            "auto_makeup",
            "patient_cancel_hours",
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
        labels = {
            "require_mfa_for_all_staff": "Second factor for all staff",
            "display_name": "Name in patient messages",
            "auto_makeup": "Book a make-up when a session is missed",
            "motor_threshold_valid_days": "Days a motor threshold stays valid",
            "relapse_watch": "Relapse watch after an acute course",
            "relapse_watch_weeks": "Relapse watch: weeks after the end",
            "relapse_watch_months": "Relapse watch: monthly until month",
            "relapse_remitter_score": "Relapse: a remitter's PHQ-9 at or above",
            "relapse_rise": "Relapse: a PHQ-9 rise of at least",
        }

    IDENTITY = ("name", "display_name", "phone", "timezone", "npi", "tax_id")

    def identity_fields(self) -> list[Any]:
        return [self[name] for name in self.IDENTITY]

    def policy_fields(self) -> list[Any]:
        return [self[name] for name in self.Meta.fields if name not in self.IDENTITY]

    def _post_clean(self) -> None:
        # The service validates the model (clinic.services.clinic_update), not the form.
        pass


class OpeningDayForm(forms.Form):
    """One weekday of the opening hours: closed, or open from ``opens`` to ``closes``."""

    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int, widget=forms.HiddenInput)
    open = forms.BooleanField(required=False)
    opens = forms.TimeField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes = forms.TimeField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    @property
    def day_label(self) -> str:
        value = self["weekday"].value()
        return Weekday(int(value)).label if value not in (None, "") else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("open"):
            opens, closes = data.get("opens"), data.get("closes")
            if opens is None or closes is None:
                raise forms.ValidationError(
                    "An open day needs the time it opens and closes.", code="missing_hours"
                )
            if closes <= opens:
                raise forms.ValidationError(
                    "The clinic closes after it opens.", code="closes_before_opens"
                )
        return data


class OpeningDays(forms.BaseFormSet):
    def hours(self) -> list[dict[str, Any]]:
        return [
            {
                "weekday": f.cleaned_data["weekday"],
                "opens": f.cleaned_data["opens"],
                "closes": f.cleaned_data["closes"],
            }
            for f in self.forms
            if f.cleaned_data.get("open")
        ]


OpeningDaysFormSet = forms.formset_factory(
    OpeningDayForm,
    formset=OpeningDays,
    extra=0,
    min_num=7,
    max_num=7,
    validate_min=True,
    validate_max=True,
)


def opening_days_initial(clinic: Clinic) -> list[dict[str, Any]]:
    by_day = {entry.weekday: entry for entry in clinic.opening_hours.all()}
    return [
        {
            "weekday": day.value,
            "open": day.value in by_day,
            "opens": by_day[day.value].opens if day.value in by_day else None,
            "closes": by_day[day.value].closes if day.value in by_day else None,
        }
        for day in Weekday
    ]


class ChairForm(forms.ModelForm):
    coils = forms.MultipleChoiceField(
        choices=Coil.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The coils this chair's device takes; a protocol's coil must be one.",
    )

    class Meta:
        model = Chair
        fields = ["name", "device", "coils", "active"]

    def _post_clean(self) -> None:
        pass  # clinic.services.chair_save validates


class StaffAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(help_text="Where the link to choose a password goes.")
    role = forms.ChoiceField(choices=Role.choices)


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class NewClinicForm(forms.Form):
    """A superuser's new clinic and the person who will run it."""

    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=80, help_text="Short, unique: letters, digits, hyphens.")
    display_name = forms.CharField(
        label="Name in patient messages",
        max_length=30,
        help_text="Neutral: never names the treatment (e.g. 'Elm Care').",
    )
    phone = _PhoneField(max_length=30)
    timezone = forms.ChoiceField(label="Time zone", choices=timezone_choices)
    admin_username = forms.CharField(label="Admin's username", max_length=150)
    admin_first_name = forms.CharField(label="Admin's first name", max_length=150)
    admin_last_name = forms.CharField(label="Admin's last name", max_length=150)
    admin_email = forms.EmailField(
        label="Admin's email", help_text="Where the link to choose a password goes."
    )

    def clinic_fields(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name]
            for name in ("name", "slug", "display_name", "phone", "timezone")
        }

    @staticmethod
    def on_admin_fields(refusal: Refusal) -> Refusal:
        """The person's refusals (a taken username) by this form's admin fields."""
        person = ("username", "first_name", "last_name", "email")
        fields = {
            (f"admin_{name}" if name in person else name): messages
            for name, messages in refusal.fields.items()
        }
        return replace(refusal, fields=fields)

    def admin_fields(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[f"admin_{name}"]
            for name in ("username", "first_name", "last_name", "email")
        }
