"""The front desk's inbox: patients' texts that are not keywords ("running late"),
of the clinic the page is about, to read and mark handled."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinic.capabilities import Capability
from clinic.web import Workplace, staff_page
from notifications import selectors, services
from notifications.models import PatientReply


@staff_page(Capability.READ_PATIENT_MESSAGES)
def inbox(request: HttpRequest, place: Workplace) -> HttpResponse:
    page = Paginator(selectors.replies_of(place.clinic), 50).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page, "tz": place.clinic.tz})


@require_POST
@staff_page(Capability.READ_PATIENT_MESSAGES)
def mark_handled(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    reply = get_object_or_404(PatientReply, pk=pk, clinic=place.clinic)
    if not services.reply_mark_handled(reply, by=request.user):
        messages.info(request, "Someone had marked that message handled already.")
    return redirect("patient-messages")


def unhandled_badge(place: Workplace) -> int:
    """The navigation's count next to the inbox link."""
    return selectors.unhandled_reply_count(place.clinic)
