"""Moving a session to another time (the board's and the patient page's Move): the
free places of a chosen day, and the move itself.

The page goes back where it was opened from: a ``next`` path on this site (the patient
page passes its own), kept through the day navigation and the post; without one (or
with one pointing elsewhere), the day board of the session's new day.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from clinic.capabilities import Capability
from clinic.web import Workplace, staff_page
from scheduling import selectors, services
from scheduling.forms import MoveForm
from scheduling.models import Session, SessionStatus
from scheduling.views import (
    _attempt,
    _bad_request,
    _board_url,
    _form_errors,
    _local_day,
    _requested_day,
    _today,
    _when_where,
)


def return_target(request: HttpRequest) -> str:
    """The ``next`` path the page goes back to ("" when absent or not on this site)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.BOOK_SESSIONS)
def session_move(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Choose a new time for a session among the free places of a chosen day."""
    session = get_object_or_404(
        Session.objects.select_related("chair", "course__protocol"),
        pk=pk,
        chair__clinic=place.clinic,
    )
    return_to = return_target(request)
    error: str | None = None
    status = 200
    if request.method == "POST":
        form = MoveForm(request.POST, clinic=place.clinic)
        if form.is_valid():
            chair, starts_at = form.cleaned_data["slot"]
            moved, error, status = _attempt(
                lambda: services.session_move(session, starts_at=starts_at, chair=chair)
            )
            if moved is not None:
                messages.success(request, f"Moved the session to {_when_where(moved, place)}.")
                return redirect(return_to or _board_url(_local_day(moved.starts_at, place)))
        else:
            error, status = _form_errors(form), 400
    day = _requested_day(request, place)
    if isinstance(day, str):
        return _bad_request(request, day)
    if "date" not in request.GET:
        day = max(_local_day(session.starts_at, place), _today(place))
    entry = selectors.session_card(place.clinic, session.pk)
    if entry is None:
        raise Http404("No such session.")
    movable = session.status == SessionStatus.SCHEDULED
    return render(
        request,
        "scheduling/move.html",
        {
            "entry": entry,
            "day": day,
            "today": _today(place),
            "previous_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
            "options": selectors.move_options(place.clinic, session, day) if movable else None,
            "movable": movable,
            "error": error,
            "tz": place.clinic.tz,
            "board_url": _board_url(_local_day(session.starts_at, place)),
            "return_to": return_to,
        },
        status=status,
    )
