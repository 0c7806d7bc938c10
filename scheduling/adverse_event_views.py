"""The course page's adverse-event review: a psychiatrist records the decision that
lifts the hold an adverse event put on the course. Done, the course page is shown again
(htmx: a client redirect); refused, htmx gets the section with the reasons in it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from clinic.capabilities import Capability
from clinic.web import Workplace, attempt, is_htmx, refusal_on_form, staff_page
from courses.models import TreatmentCourse
from scheduling import services
from scheduling.adverse_events import course_adverse_events
from scheduling.forms import AdverseEventReviewForm
from scheduling.models import AdverseEvent

SECTION = "scheduling/_adverse_events.html"


def adverse_event_context(
    place: Workplace,
    course: TreatmentCourse,
    *,
    form: AdverseEventReviewForm | None = None,
    form_event_id: int | None = None,
) -> dict[str, Any]:
    """What the course page's adverse-event section shows this viewer."""
    return {
        "course": course,
        "adverse_events": course_adverse_events(course.pk),
        "clinical": place.can(Capability.READ_CLINICAL_DETAIL),
        "can_review_adverse_events": place.can(Capability.REVIEW_ADVERSE_EVENTS),
        "review_form": form if form is not None else AdverseEventReviewForm(),
        "review_form_event_id": form_event_id,
    }


@staff_page(Capability.REVIEW_ADVERSE_EVENTS)
@require_POST
def adverse_event_review(
    request: HttpRequest, place: Workplace, pk: int, event_id: int
) -> HttpResponse:
    courses = TreatmentCourse.objects.select_related("patient__clinic")
    if place.role is not None:
        courses = courses.filter(patient__clinic=place.clinic)
    course = get_object_or_404(courses, pk=pk)
    event = get_object_or_404(AdverseEvent, pk=event_id, course=course)
    form = AdverseEventReviewForm(request.POST)
    status = 400
    if form.is_valid():
        _, refusal = attempt(
            lambda: services.adverse_event_review(
                event,
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
                by=request.user,
            )
        )
        if refusal is None:
            text = "Decision recorded: the course's sessions can go ahead again."
            if form.cleaned_data["decision"] == "discontinue":
                text = "Decision recorded: the course is discontinued."
            messages.success(request, text)
            # The whole page again: the risk, the status and the sessions change too. (A
            # client redirect to the same page with only a #fragment would not reload.)
            page = reverse("course-detail", args=[course.pk])
            if is_htmx(request):
                return HttpResponseClientRedirect(page)
            return redirect(page + "#adverse-events")
        refusal_on_form(form, refusal)
        status = refusal.status
    context = adverse_event_context(place, course, form=form, form_event_id=event.pk)
    # Above the list: a refusal of a decision already recorded has no form to sit on.
    context["error"] = " ".join(str(message) for message in form.non_field_errors())
    return render(
        request,
        SECTION if is_htmx(request) else "scheduling/adverse_event_review.html",
        context,
        status=status,
    )
