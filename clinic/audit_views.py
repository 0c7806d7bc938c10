"""The audit trail page (``/audit/``) and its CSV export: the current clinic's events,
with the API's filters (clinic.audit_read). The export is itself an audit event."""

from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.audit_read import CSV_HEADER, AuditFilterForm, audit_events, csv_row
from clinic.capabilities import Capability
from clinic.web import Workplace, staff_page

EXPORT_LIMIT = 100_000


@require_GET
@staff_page(Capability.READ_AUDIT_TRAIL)
def audit_page(request: HttpRequest, place: Workplace) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "clinic/audit.html", {"form": form, "page": None}, status=400)
    events = audit_events([place.clinic.pk], form.cleaned_data, place.clinic)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "clinic/audit.html",
        {"form": form, "page": page, "query": query.urlencode(), "zone": place.clinic.timezone},
    )


@require_GET
@staff_page(Capability.READ_AUDIT_TRAIL)
def audit_csv(request: HttpRequest, place: Workplace) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in form.problems().items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    events = audit_events([place.clinic.pk], form.cleaned_data, place.clinic)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{place.clinic.slug}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for event in events[:EXPORT_LIMIT].iterator(chunk_size=2000):
        writer.writerow(csv_row(event))
    return response
