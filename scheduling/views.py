"""Staff HTML pages of the scheduling app: the front desk's day board (with attendance
actions and moves), the closures page, and the technician's list of today's sessions.

Views stay thin: reads come from ``scheduling.selectors``, every change goes through
``scheduling.services`` (or ``clinic.services`` for closures), and who may do what
follows the same capabilities as the API (``clinic.capabilities``). Actions answer htmx
with the re-rendered block or row (a 409 or 400 shows its message in place) and plain
form posts with a redirect back and a message. Messages never name a patient: they
are kept in a cookie or the session between requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from clinic import services as clinic_services
from clinic.capabilities import Capability
from clinic.models import Closure
from clinic.web import Workplace, attempt, is_htmx, refusal_on_form, staff_page
from scheduling import closure_selectors, closure_views, selectors, services
from scheduling.forms import CancelForm, ClosureForm, CompleteForm, DayForm, UndoForm
from scheduling.models import UPCOMING, Session, SessionStatus

FRAGMENT_BLOCK = "block"  # a session block of the day board
FRAGMENT_ROW = "row"  # a session row of the technician's list


# --- helpers ---------------------------------------------------------------------------


def _today(place: Workplace) -> dt.date:
    return place.clinic.today()


def _local_day(moment: dt.datetime, place: Workplace) -> dt.date:
    return moment.astimezone(place.clinic.tz).date()


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "scheduling/bad_request.html", {"message": message}, status=400)


def _form_errors(form: Form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _requested_day(request: HttpRequest, place: Workplace) -> dt.date | str:
    """The ``?date=`` of a day page (the clinic's today when absent), or why it is wrong."""
    form = DayForm(request.GET)
    if not form.is_valid():
        return f"That date could not be used: {_form_errors(form)} Use the form YYYY-MM-DD."
    day: dt.date | None = form.cleaned_data["date"]
    return day or _today(place)


def _attempt(change: Callable[[], Any]) -> tuple[Any, str | None, int]:
    """A service call's (result, None, 200), or (None, the refusal's message, status)."""
    result, refusal = attempt(change)
    if refusal is None:
        return result, None, 200
    return None, refusal.message, refusal.status


def _session_or_404(place: Workplace, pk: int) -> Session:
    """A session of the current clinic; any other clinic's answers 404."""
    return get_object_or_404(
        Session.objects.select_related("chair"), pk=pk, chair__clinic=place.clinic
    )


def _board_url(day: dt.date) -> str:
    return f"{reverse('board-page')}?date={day.isoformat()}"


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _offers(entry: dict[str, Any], place: Workplace, now: dt.datetime) -> dict[str, Any]:
    """Which actions the viewer is offered on a session: what their role may do (the
    API's rules) and what makes sense for the session's state and time. A session of
    today not yet open for check-in says from when it is (``check_in_from``)."""
    status = entry["status"]
    scheduled = status == SessionStatus.SCHEDULED
    held = entry["course"]["needs_review"]  # the services refuse these; don't offer them
    may_check_in = (
        status in (SessionStatus.SCHEDULED, SessionStatus.MISSED)  # missed: a late patient
        and not held
        and _local_day(entry["starts_at"], place) == _today(place)
        and place.can(Capability.CHECK_IN)
    )
    opens = services.check_in_opens_at(entry["starts_at"], place.clinic)
    return {
        "check_in": may_check_in and now >= opens,
        "late": may_check_in and status == SessionStatus.MISSED,
        "undo": place.can(Capability.UNDO_ATTENDANCE)
        and services.undo_offered(entry, place.clinic, now),
        "check_in_from": opens if may_check_in and now < opens else None,
        "mark_missed": scheduled
        and entry["starts_at"] <= now
        and place.can(Capability.MARK_MISSED),
        "cancel": status in UPCOMING and place.can(Capability.CANCEL_SESSION),
        "move": scheduled and place.can(Capability.BOOK_SESSIONS),
        "complete": status == SessionStatus.CHECKED_IN
        and not held
        and place.can(Capability.RECORD_TREATMENT),
    }


def _with_offers(entry: dict[str, Any], place: Workplace, now: dt.datetime) -> dict[str, Any]:
    entry["offers"] = _offers(entry, place, now)
    return entry


# --- the day board ---------------------------------------------------------------------


def waitlist_offers(clinic_id: int) -> Any:
    """Waiting courses whose earliest start moved earlier: front desk calls them."""
    return (
        services.still_waiting(clinic_id)
        .filter(offer_start__isnull=False)
        .select_related("course__patient")
        .order_by("offer_start", "id")
    )


@require_http_methods(["GET", "HEAD"])
@staff_page(Capability.OPEN_BOARD)
def board_page(request: HttpRequest, place: Workplace) -> HttpResponse:
    day = _requested_day(request, place)
    if isinstance(day, str):
        return _bad_request(request, day)
    grid = selectors.board_grid(place.clinic, day)
    now = timezone.now()
    for row in grid["rows"]:
        for cell in row["cells"]:
            for entry in cell["sessions"]:
                _with_offers(entry, place, now)
    for entry in grid["cancelled"]:
        _with_offers(entry, place, now)
    return render(
        request,
        "scheduling/board.html",
        {
            "grid": grid,
            "day": day,
            "today": _today(place),
            "previous_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
            "tz": place.clinic.tz,
            "back": request.get_full_path(),
            "refresh_seconds": settings.BOARD_REFRESH_SECONDS,
            "offers": list(waitlist_offers(place.clinic.pk)),
        },
    )


def _after_action(
    request: HttpRequest,
    place: Workplace,
    session: Session,
    *,
    done: str,
    error: str | None = None,
    status: int = 200,
    complete_form: CompleteForm | None = None,
) -> HttpResponse:
    """htmx: the session's block (or technician row) again, with the outcome in it.
    Plain form post: back to the page it came from, with the outcome as a message."""
    as_row = complete_form is not None or request.POST.get("fragment") == FRAGMENT_ROW
    default = (
        reverse("technician-today") if as_row else _board_url(_local_day(session.starts_at, place))
    )
    back = _back(request, default)
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        return redirect(back)
    entry = selectors.session_card(place.clinic, session.pk)
    if entry is None:  # gone meanwhile (a course planned again after a closure)
        raise Http404("No such session.")
    _with_offers(entry, place, timezone.now())
    context = {
        "entry": entry,
        "tz": place.clinic.tz,
        "back": back,
        "error": error,
        "notice": None if error else done,
    }
    if as_row:
        context["form"] = complete_form if error and complete_form else _complete_form(entry)
        return render(request, "scheduling/_today_session.html", context, status=status)
    return render(request, "scheduling/_board_block.html", context, status=status)


def _when_where(session: Session, place: Workplace) -> str:
    """Where a session is, for a message that must not name its patient."""
    local = session.starts_at.astimezone(place.clinic.tz)
    return f"{local:%H:%M} on {session.chair.name}, {local:%a} {local.day} {local:%b}"


@require_POST
@staff_page(Capability.CHECK_IN)
def session_check_in(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    session = _session_or_404(place, pk)
    _, error, status = _attempt(lambda: services.session_check_in(session, by=request.user))
    return _after_action(
        request,
        place,
        session,
        done=f"Checked in the session at {_when_where(session, place)}.",
        error=error,
        status=status,
    )


@require_POST
@staff_page(Capability.MARK_MISSED)
def session_mark_missed(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    session = _session_or_404(place, pk)
    _, error, status = _attempt(lambda: services.session_mark_missed(session))
    return _after_action(
        request,
        place,
        session,
        done=f"Marked the session at {_when_where(session, place)} as missed.",
        error=error,
        status=status,
    )


@require_POST
@staff_page(Capability.UNDO_ATTENDANCE)
def session_undo(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    session = _session_or_404(place, pk)
    form = UndoForm(request.POST)
    if form.is_valid():
        reason = form.cleaned_data["reason"]
        _, error, status = _attempt(
            lambda: services.session_undo(session, reason=reason, by=request.user)
        )
    else:
        error, status = _form_errors(form), 400
    return _after_action(
        request,
        place,
        session,
        done=f"Undid the last mark on the session at {_when_where(session, place)}.",
        error=error,
        status=status,
    )


@require_POST
@staff_page(Capability.CANCEL_SESSION)
def session_cancel(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    session = _session_or_404(place, pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        reason = form.cleaned_data["reason"]
        _, error, status = _attempt(lambda: services.session_cancel(session, reason=reason))
    else:
        error, status = _form_errors(form), 400
    return _after_action(
        request,
        place,
        session,
        done=f"Cancelled the session at {_when_where(session, place)}.",
        error=error,
        status=status,
    )


# --- the technician's list -------------------------------------------------------------


def _complete_form(entry: dict[str, Any]) -> CompleteForm:
    """A treatment record form starting from the prescription; the prefix keeps each
    session's fields apart."""
    return CompleteForm.starting_from(entry["prescription"], prefix=f"s{entry['id']}")


def _today_page(
    request: HttpRequest,
    place: Workplace,
    *,
    bound: CompleteForm | None = None,
    bound_id: int | None = None,
    errors: dict[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    today = _today(place)
    now = timezone.now()
    entries = [
        _with_offers(entry, place, now)
        for entry in selectors.sessions_for_day_list(place.clinic, today)
    ]
    rows = [
        {
            "entry": entry,
            "form": bound
            if bound is not None and entry["id"] == bound_id
            else _complete_form(entry),
            "error": (errors or {}).get(entry["id"]),
        }
        for entry in entries
    ]
    return render(
        request,
        "scheduling/today.html",
        {
            "rows": rows,
            "today": today,
            "tz": place.clinic.tz,
            "back": reverse("technician-today"),
            "may_act": place.can(Capability.CHECK_IN) or place.can(Capability.RECORD_TREATMENT),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD"])
@staff_page(Capability.OPEN_TODAY)
def technician_today(request: HttpRequest, place: Workplace) -> HttpResponse:
    return _today_page(request, place)


@require_POST
@staff_page(Capability.RECORD_TREATMENT)
def session_complete(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Record what a checked-in session delivered and complete it."""
    session = _session_or_404(place, pk)
    form = CompleteForm(request.POST, prefix=f"s{session.pk}")
    error: str | None = "Check the treatment record: some fields need attention."
    status = 400
    if form.is_valid():
        record = form.cleaned_data
        _, refusal = attempt(
            lambda: services.session_complete(session, technician=request.user, **record)
        )
        if refusal is None:
            error, status = None, 200
        else:
            refusal_on_form(form, refusal)
            error = error if refusal.fields else refusal.message
            status = refusal.status
    if error is None or is_htmx(request):
        return _after_action(
            request,
            place,
            session,
            done=f"Completed the session at {_when_where(session, place)}.",
            error=error,
            status=status,
            complete_form=form,
        )
    return _today_page(
        request, place, bound=form, bound_id=session.pk, errors={session.pk: error}, status=status
    )


# --- closures --------------------------------------------------------------------------


def _closures_page(
    request: HttpRequest,
    place: Workplace,
    *,
    form: ClosureForm | None = None,
    rebooked: dict[str, Any] | None = None,
    pending: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> HttpResponse:
    today = _today(place)
    return render(
        request,
        "scheduling/closures.html",
        {
            "closures": closure_selectors.upcoming_closures(place.clinic, today),
            "form": form or ClosureForm(today=today),
            "may_add": place.can(Capability.SET_UP_CLINIC),
            "may_rebook": place.can(Capability.REBOOK_CLOSURE),
            "rebooked": rebooked,
            "pending": pending,
            "confirm_name": closure_views.CONFIRM,
            "tz": place.clinic.tz,
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.OPEN_CLOSURES)
def closures_page(request: HttpRequest, place: Workplace) -> HttpResponse:
    """Upcoming closures with the sessions each still hits; clinic admins add them here."""
    if request.method != "POST":
        return _closures_page(request, place)
    if not place.can(Capability.SET_UP_CLINIC):
        raise PermissionDenied("Closures are added by a clinic admin.")
    form = ClosureForm(request.POST, today=_today(place))
    if form.is_valid():
        pending = closure_views.unconfirmed_hits(request, place, form.cleaned_data["date"])
        if pending:  # shown before saving: the person confirms with them in view
            return _closures_page(request, place, form=form, pending=pending, status=400)
        closure, refusal = attempt(
            lambda: clinic_services.closure_save(clinic=place.clinic, **form.cleaned_data)
        )
        if refusal is not None:
            refusal_on_form(form, refusal)
        elif closure is not None:
            messages.success(request, f"The clinic is now closed on {closure.date:%A %d %B %Y}.")
            return redirect("closures-page")
    return _closures_page(request, place, form=form, status=400)


@require_POST
@staff_page(Capability.REBOOK_CLOSURE)
def closure_rebook(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Move every session still booked on a closed day (all or nothing) and show where
    each went."""
    closure = get_object_or_404(Closure, pk=pk, clinic=place.clinic)
    hit = closure_selectors.closure_hits(place.clinic, closure.date)
    moved, error, status = _attempt(lambda: services.closure_rebook(place.clinic, closure.date))
    result = {
        "date": closure.date,
        "error": error,
        "rows": (
            closure_selectors.rebook_summary(place.clinic, hit, moved) if moved is not None else []
        ),
        "count": len(hit),
    }
    return _closures_page(request, place, rebooked=result, status=status)
