"""The staff outbox page: what went (or will go) to patients, with the text sent.

With the console transport (the embedded default) this is where staff read the
messages Cadence would have sent."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic import access
from clinic.capabilities import Capability
from notifications.models import Notification


@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    # Every clinic where the viewer may read the outbox, not only the current one.
    clinic_ids = access.clinic_ids_with(request.user, Capability.READ_OUTBOX)
    if clinic_ids is not None and not clinic_ids:
        raise PermissionDenied("Your role does not include the outbox.")
    rows = Notification.objects.select_related("patient", "clinic").order_by(
        "-scheduled_for", "-id"
    )
    if clinic_ids is not None:
        rows = rows.filter(clinic_id__in=clinic_ids)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "notifications/outbox.html", {"page": page})
