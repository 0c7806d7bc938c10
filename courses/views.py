"""Staff HTML pages of the courses app: acknowledging a safety flag (psychiatrists) and
a staff alert (its recipient). The course page, the booking page and the dashboard
read sessions, so they live in the scheduling app (scheduling/course_views.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clinic.capabilities import Capability
from clinic.web import Workplace, is_htmx, staff_page
from courses import alerts, services
from courses.models import SafetyFlag, StaffAlert


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return default


@staff_page(Capability.REVIEW_SAFETY_FLAGS)
@require_POST
def safety_flag_acknowledge(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    flags = SafetyFlag.objects.select_related("course__patient", "assessment")
    if place.role is not None:
        flags = flags.filter(course__patient__clinic=place.clinic)
    flag = services.safety_flag_acknowledge(get_object_or_404(flags, pk=pk), by=request.user)
    text = (
        f"Safety flag for {flag.course.patient.first_name} {flag.course.patient.last_name} "
        "acknowledged."
    )
    if is_htmx(request):
        return render(request, "courses/_acknowledged.html", {"text": text})
    messages.success(request, text)
    return redirect(_next_url(request, reverse("psychiatrist-dashboard")))


@staff_page(Capability.ACKNOWLEDGE_ALERTS)
@require_POST
def staff_alert_acknowledge(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    alert = get_object_or_404(
        StaffAlert.objects.select_related("course__patient"), pk=pk, recipient=request.user
    )
    alert = alerts.acknowledge(alert)
    text = f"Alert about {alert.course.patient.first_name} {alert.course.patient.last_name} done."
    if is_htmx(request):
        return render(request, "courses/_acknowledged.html", {"text": text})
    messages.success(request, text)
    return redirect(_next_url(request, reverse("psychiatrist-dashboard")))


@staff_page(Capability.ACKNOWLEDGE_ALERTS)
@require_POST
def staff_alerts_acknowledge(request: HttpRequest, place: Workplace) -> HttpResponse:
    """Acknowledge the selected alerts at once (only the viewer's own count)."""
    ids = [int(v) for v in request.POST.getlist("alert") if v.isdigit() and len(v) <= 12]
    done = alerts.acknowledge_many(request.user, ids)
    messages.success(request, f"{done} alert(s) acknowledged.")
    return redirect(_next_url(request, reverse("psychiatrist-dashboard")))
