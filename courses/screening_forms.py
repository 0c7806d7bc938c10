"""Forms of the screening pages: the safety questionnaire (every question answered yes
or no, none preset), the failed antidepressant trials (a formset: rows added and
removed), and the psychiatrist's decision. The rules live in courses.services."""

from __future__ import annotations

from typing import Any

from django import forms

from courses.models import Adherence, Screening, TrialOutcome

# The questionnaire in the order it is asked; the first four are absolute
# contraindications (Screening.ABSOLUTE).
QUESTIONS: dict[str, str] = {
    "metal_in_head": "Ferromagnetic metal in or near the head (clips, shrapnel, fragments)?",
    "cochlear_implant": "A cochlear implant?",
    "brain_stimulator": "An implanted brain or nerve stimulator (DBS, VNS)?",
    "magnetic_implant_near_coil": (
        "A magnetic-sensitive implant near the coil (e.g. an aneurysm clip)?"
    ),
    "seizure_history": "Any history of seizures or epilepsy?",
    "implanted_devices": "An implanted device elsewhere (pacemaker, medication pump)?",
    "head_injury_with_loc": "A head injury with loss of consciousness?",
    "pregnancy": "Pregnant, or could be?",
    "prior_tms": "Had TMS before?",
    "prior_tms_problems": "Problems with earlier TMS?",
}
YES_NO = [("yes", "Yes"), ("no", "No")]


def question_label(name: str) -> str:
    return QUESTIONS[name].rstrip("?")


class ScreeningForm(forms.Form):
    """The safety questionnaire and medications. A question left unanswered is an
    error: a "no" must be someone's answer, never a default."""

    current_medications = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Name, dose and frequency, one per line.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        questions = {
            name: forms.ChoiceField(
                label=label,
                choices=YES_NO,
                widget=forms.RadioSelect,
                error_messages={"required": "Answer yes or no."},
            )
            for name, label in QUESTIONS.items()
        }
        self.fields = {**questions, **self.fields}

    @classmethod
    def initial_from(cls, screening: Screening) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: "yes" if getattr(screening, name) else "no" for name in QUESTIONS
        }
        initial["current_medications"] = screening.current_medications
        initial["notes"] = screening.notes
        return initial

    def questions(self) -> list[forms.BoundField]:
        return [self[name] for name in QUESTIONS]

    def answers(self) -> dict[str, Any]:
        data = self.cleaned_data
        answers: dict[str, Any] = {name: data[name] == "yes" for name in QUESTIONS}
        answers["current_medications"] = data["current_medications"].strip()
        answers["notes"] = data["notes"].strip()
        return answers


class FailedTrialForm(forms.Form):
    drug = forms.CharField(max_length=80)
    dose = forms.CharField(max_length=40, help_text="e.g. 150 mg daily")
    weeks = forms.IntegerField(min_value=0, max_value=520)
    adherence = forms.ChoiceField(choices=Adherence.choices, initial=Adherence.FULL)
    outcome = forms.ChoiceField(choices=[("", "Choose the outcome"), *TrialOutcome.choices])


class BaseTrialFormSet(forms.BaseFormSet):
    def trials(self) -> list[dict[str, Any]]:
        return [
            {name: form.cleaned_data[name] for name in FailedTrialForm.base_fields}
            for form in self.forms
            if form.has_changed() and not form.cleaned_data.get("DELETE")
        ]


TrialFormSet = forms.formset_factory(
    FailedTrialForm, formset=BaseTrialFormSet, extra=0, can_delete=True, max_num=30
)


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required to decline, and to clear despite a positive answer.",
    )
