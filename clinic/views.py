from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.http import require_GET

from clinic import access
from clinic.api_common import validation_body
from clinic.capabilities import Capability
from clinic.models import Clinic
from clinic.web import workplace

# Where a role's day starts, by what the role may open (first match): the front desk's
# board, the technician's list, the psychiatrist's dashboard. A clinic admin, who may
# open all three, lands on the board.
HOME_PAGES: tuple[tuple[str, Capability], ...] = (
    ("board-page", Capability.OPEN_BOARD),
    ("technician-today", Capability.OPEN_TODAY),
    ("psychiatrist-dashboard", Capability.OPEN_DASHBOARD),
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Open on the viewer's work in their current clinic; the list of their clinics only
    for someone with no such page (no clinic yet)."""
    place = workplace(request)
    if place is not None:
        for name, capability in HOME_PAGES:
            if place.can(capability):
                return redirect(name)
    roles = access.roles_by_clinic(request.user)
    clinics = Clinic.objects.filter(id__in=roles).order_by("name")
    memberships = [(clinic, roles[clinic.pk]) for clinic in clinics]
    return render(request, "clinic/home.html", {"memberships": memberships})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/webhooks/"))


def _json_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def bad_request(request: HttpRequest, exception: Any, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            validation_body("bad_request", "The request could not be understood."), status=400
        )
    return defaults.bad_request(request, exception, **kwargs)


def permission_denied(request: HttpRequest, exception: Any, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return _json_error(403, "permission_denied", "You may not do this.")
    return defaults.permission_denied(request, exception, **kwargs)


def page_not_found(request: HttpRequest, exception: Any, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return _json_error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception, **kwargs)


def server_error(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return _json_error(500, "server_error", "Something went wrong on our side.")
    return defaults.server_error(request, **kwargs)
