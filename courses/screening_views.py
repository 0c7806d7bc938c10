"""The screening pages: record a patient's screening (``screening-new``), and see it,
correct it and decide on it (``screening-detail``; clear or decline: psychiatrists).
The rules (absolute contraindications, the clinic's required failed trials, a reason
when a positive answer is cleared) are the services'; refusals show on the page."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clinic.capabilities import Capability
from clinic.models import Patient
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from courses import services
from courses.models import Screening
from courses.screening_forms import (
    QUESTIONS,
    DecisionForm,
    ScreeningForm,
    TrialFormSet,
    question_label,
)

TRIALS_PREFIX = "trials"


def _patients(place: Workplace) -> QuerySet[Patient]:
    patients = Patient.objects.select_related("clinic")
    return patients if place.role is None else patients.filter(clinic=place.clinic)


def _screenings(place: Workplace) -> QuerySet[Screening]:
    screenings = Screening.objects.select_related(
        "patient__clinic", "decided_by", "recorded_by"
    ).prefetch_related("failed_trials")
    return screenings if place.role is None else screenings.filter(patient__clinic=place.clinic)


def _bound_trials(request: HttpRequest) -> Any:
    """The trial rows as posted; "Add a trial" posts the form back with one row more."""
    data = request.POST.copy()
    if "add_trial" in data:
        key = f"{TRIALS_PREFIX}-TOTAL_FORMS"
        try:
            data[key] = str(int(data.get(key, "0")) + 1)
        except ValueError:
            data[key] = "1"
    return TrialFormSet(data, prefix=TRIALS_PREFIX)


def _edit(
    request: HttpRequest, place: Workplace, patient: Patient, screening: Screening | None
) -> HttpResponse:
    if request.method == "POST":
        form = ScreeningForm(request.POST)
        trials = _bound_trials(request)
        if "add_trial" not in request.POST and form.is_valid() and trials.is_valid():
            saved, refusal = attempt(
                lambda: services.screening_save(
                    screening,
                    recorded_by=request.user,
                    failed_trials=trials.trials(),
                    patient=patient,
                    **form.answers(),
                )
            )
            if refusal is None:
                messages.success(request, "Screening recorded.")
                return redirect("screening-detail", cast(Screening, saved).pk)
            refusal_on_form(form, refusal)
        status = 200 if "add_trial" in request.POST else 400
    else:
        status = 200
        if screening is None:
            form = ScreeningForm()
            trials = TrialFormSet(prefix=TRIALS_PREFIX, initial=[{}])
        else:
            form = ScreeningForm(initial=ScreeningForm.initial_from(screening))
            trials = TrialFormSet(
                prefix=TRIALS_PREFIX,
                initial=[
                    {
                        "drug": t.drug,
                        "dose": t.dose,
                        "weeks": t.weeks,
                        "adherence": t.adherence,
                        "outcome": t.outcome,
                    }
                    for t in screening.failed_trials.all()
                ],
            )
    context = {
        "patient": patient,
        "screening": screening,
        "form": form,
        "trials": trials,
        "clinic": patient.clinic,
    }
    return render(request, "courses/screening_form.html", context, status=status)


@staff_page(Capability.RECORD_SCREENING)
def screening_new(request: HttpRequest, place: Workplace) -> HttpResponse:
    patient_id = request.GET.get("patient", "")
    if not patient_id.isdigit():
        raise Http404("Choose a patient.")
    patient = get_object_or_404(_patients(place), pk=int(patient_id))
    return _edit(request, place, patient, None)


@staff_page(Capability.RECORD_SCREENING)
def screening_edit(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    screening = get_object_or_404(_screenings(place), pk=pk)
    return _edit(request, place, screening.patient, screening)


def _detail(
    request: HttpRequest,
    place: Workplace,
    screening: Screening,
    *,
    decision_form: DecisionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    clinic = screening.patient.clinic
    trials = list(screening.failed_trials.all())
    context = {
        "screening": screening,
        "patient": screening.patient,
        "clinic": clinic,
        "answers": [
            {
                "label": question_label(name),
                "yes": getattr(screening, name),
                "absolute": name in Screening.ABSOLUTE,
            }
            for name in QUESTIONS
        ],
        "absolute": [question_label(name) for name in screening.absolute_contraindications],
        "relative": [question_label(name) for name in screening.relative_contraindications],
        "trials": trials,
        "adequate": sum(1 for trial in trials if trial.adequate),
        "can_decide": place.can(Capability.CLEAR_SCREENING),
        "can_prescribe": place.can(Capability.PRESCRIBE),
        "decision_form": decision_form or DecisionForm(),
    }
    return render(request, "courses/screening_detail.html", context, status=status)


@staff_page(Capability.RECORD_SCREENING)
def screening_detail(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    return _detail(request, place, get_object_or_404(_screenings(place), pk=pk))


@staff_page(Capability.CLEAR_SCREENING)
@require_POST
def screening_decide(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Clear or decline (``action``), with the reason; the service's refusal (an
    absolute contraindication, too few adequate trials, no reason) shows on the page."""
    screening = get_object_or_404(_screenings(place), pk=pk)
    form = DecisionForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason", "")
    action = request.POST.get("action")
    if action == "clear":
        _, refusal = attempt(
            lambda: services.screening_clear(screening, by=request.user, reason=reason)
        )
    elif action == "decline":
        _, refusal = attempt(
            lambda: services.screening_decline(screening, by=request.user, reason=reason)
        )
    else:
        form.add_error(None, "Choose to clear or to decline.")
        return _detail(request, place, screening, decision_form=form, status=400)
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _detail(request, place, screening, decision_form=form, status=refusal.status)
    word = "cleared for treatment" if action == "clear" else "declined"
    messages.success(request, f"Screening {word}.")
    return redirect(reverse("screening-detail", args=[screening.pk]))
