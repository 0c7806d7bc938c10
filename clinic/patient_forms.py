"""The patient registration and edit form. It parses what staff typed; the rules (the
MRN unique in the clinic, the date of birth's range, consent after an opt-out) are
clinic.services.patient_save's and the consent ledger's, the same for the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from clinic import dates
from clinic.models import PATIENT_DETAILS, Patient
from clinic.phones import normalize_phone

VERBAL = "staff"
WRITTEN = "written"
CONSENT_SOURCES = [
    (VERBAL, "The patient agreed in person or on the phone (verbal)"),
    (WRITTEN, "The patient signed a written consent form"),
]


class PatientForm(forms.ModelForm):
    phone = forms.CharField(
        required=False,
        max_length=30,
        help_text="A US number as you would dial it, or with + and the country code.",
    )
    consent_source = forms.ChoiceField(
        label="How the patient gave a consent you tick here",
        choices=CONSENT_SOURCES,
        initial=VERBAL,
        widget=forms.RadioSelect,
        help_text="After a patient opted out of texts, only a written consent (or the "
        "patient texting START) switches texts back on.",
    )
    consent_document = forms.CharField(
        label="Written consent: the form signed", required=False, max_length=200
    )
    consent_given_on = dates.DateFormField(
        label="Written consent: the day it was signed",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    save_anyway = forms.BooleanField(
        label="This is a different person: save anyway", required=False
    )

    class Meta:
        model = Patient
        fields = list(PATIENT_DETAILS)
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
            "preferred_channel": forms.RadioSelect,
        }
        field_classes = {"date_of_birth": dates.DateFormField}
        labels = {
            "sms_consent": "Texts (SMS) may be sent",
            "email_consent": "Emails may be sent",
            "preferred_channel": "When both are agreed, send messages by",
            "daily_reminders": "Remind before every visit",
        }
        help_texts = {
            "preferred_channel": "Only a channel ticked above is ever used: with one, "
            "messages go there whatever is chosen here.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.phone:
            self.initial.setdefault("phone", self.instance.phone)
        for name in ("mrn", "first_name", "last_name", "date_of_birth"):
            self.fields[name].required = True
        # Left out of a post (a form from before the field existed): kept as it is.
        self.fields["preferred_channel"].required = False
        self.fields["first_name"].widget.attrs["autocomplete"] = "off"
        self.fields["last_name"].widget.attrs["autocomplete"] = "off"

    def validate_unique(self) -> None:
        """The service checks the MRN with the message the API gives."""

    def _post_clean(self) -> None:
        # The model's own checks run in the service (patient_save), which answers
        # through clinic.web.attempt like the API does.
        pass

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        return normalize_phone(raw) if raw else ""

    def clean_preferred_channel(self) -> str:
        return str(self.cleaned_data["preferred_channel"] or self.instance.preferred_channel)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("sms_consent") and not data.get("phone"):
            self.add_error("sms_consent", "SMS consent needs a phone number.")
        if data.get("email_consent") and not data.get("email"):
            self.add_error("email_consent", "Email consent needs an email address.")
        if data.get("consent_source") == WRITTEN and self.granted_channels():
            if not data.get("consent_document", "").strip():
                self.add_error("consent_document", "Name the form the patient signed.")
            if not data.get("consent_given_on"):
                self.add_error("consent_given_on", "Give the day it was signed.")
        return data

    def granted_channels(self) -> list[str]:
        """The consents this form switches on."""
        data = self.cleaned_data
        return [
            field
            for field in ("sms_consent", "email_consent")
            if data.get(field) and not (self.instance.pk and getattr(self.instance, field))
        ]

    def patient_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in PATIENT_DETAILS}

    def consent(self) -> dict[str, Any]:
        """How the consent changes are recorded in the ledger (patient_save's keywords)."""
        if self.cleaned_data["consent_source"] != WRITTEN or not self.granted_channels():
            return {"consent_source": VERBAL}
        given_on: dt.date | None = self.cleaned_data["consent_given_on"]
        return {
            "consent_source": WRITTEN,
            "consent_document": self.cleaned_data["consent_document"].strip(),
            "consent_given_on": given_on,
        }
