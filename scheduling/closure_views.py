"""Closures changed and removed, and chair blocks, on pages (the closures list and its
add form are in scheduling/views.py).

A closure is saved only after the person saw the sessions it hits: when the day chosen
has scheduled sessions, the page lists them and asks again; the sessions stay booked
until someone re-books them from the closures page. A chair block over booked sessions
is refused by its service (scheduling.services.closures.chair_block_save), and the page
lists those sessions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clinic import dates
from clinic import services as clinic_services
from clinic.capabilities import Capability
from clinic.models import Chair, ChairBlock, Closure
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from scheduling import closure_selectors, services
from scheduling.calendar import local_datetime
from scheduling.forms import ClosureForm

CONFIRM = "confirm_hits"


def unconfirmed_hits(request: HttpRequest, place: Workplace, day: dt.date) -> list[dict[str, Any]]:
    """The sessions a closure of ``day`` would hit, when the person has not yet seen
    them (the form comes back with them listed and a confirmation box)."""
    if request.POST.get(CONFIRM) == day.isoformat():
        return []
    return closure_selectors.closure_hits(place.clinic, day)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.SET_UP_CLINIC)
def closure_edit(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    closure = get_object_or_404(Closure, pk=pk, clinic=place.clinic)
    today = place.clinic.today()
    initial = {"date": closure.date, "reason": closure.reason}
    form = ClosureForm(request.POST or None, initial=initial, today=today)
    pending: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        day = form.cleaned_data["date"]
        pending = unconfirmed_hits(request, place, day) if day != closure.date else []
        if not pending:
            saved, refusal = attempt(
                lambda: clinic_services.closure_save(closure, **form.cleaned_data)
            )
            if refusal is not None:
                refusal_on_form(form, refusal)
            elif saved is not None:
                messages.success(request, f"The closure is now on {saved.date:%A %d %B %Y}.")
                return redirect("closures-page")
    return render(
        request,
        "scheduling/closure_edit.html",
        {
            "closure": closure,
            "form": form,
            "pending": pending,
            "pending_day": form.cleaned_data.get("date") if pending else None,
            "current_hits": closure_selectors.closure_hits(place.clinic, closure.date),
            "confirm_name": CONFIRM,
            "tz": place.clinic.tz,
        },
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.SET_UP_CLINIC)
def closure_delete(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Open the clinic again on the day; asks first, listing the sessions booked that
    day (they stay booked, now on an open day)."""
    closure = get_object_or_404(Closure, pk=pk, clinic=place.clinic)
    error = ""
    status = 200
    if request.method == "POST":
        _, refusal = attempt(lambda: clinic_services.closure_delete(closure))
        if refusal is None:
            messages.success(request, f"The clinic is open again on {closure.date:%A %d %B %Y}.")
            return redirect("closures-page")
        error, status = refusal.message, refusal.status
    return render(
        request,
        "scheduling/closure_delete.html",
        {
            "closure": closure,
            "hits": closure_selectors.closure_hits(place.clinic, closure.date),
            "error": error,
            "tz": place.clinic.tz,
        },
        status=status,
    )


# --- chair blocks ----------------------------------------------------------------------


def _date_field(label: str, **kwargs: Any) -> dates.DateFormField:
    return dates.DateFormField(
        label=label,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        **kwargs,
    )


class ChairBlockForm(forms.Form):
    """A block on one day, from a time until a later one; the change form also has
    ``until_day`` (a block the API made may span days)."""

    day = _date_field("Date")
    starts = forms.TimeField(
        label="From", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    until_day = _date_field(
        "Until date", required=False, help_text="Empty: the same day as it starts."
    )
    ends = forms.TimeField(
        label="Until", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    reason = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not all(data.get(name) for name in ("day", "starts", "ends")):
            return data
        if (data.get("until_day") or data["day"], data["ends"]) <= (data["day"], data["starts"]):
            raise forms.ValidationError("A block ends after it starts.", code="ends_before_start")
        return data

    def span(self, tz: Any) -> tuple[dt.datetime, dt.datetime]:
        """When the block starts and ends (the clinic's wall clock, ``tz``)."""
        data = self.cleaned_data
        return (
            local_datetime(data["day"], data["starts"], tz),
            local_datetime(data.get("until_day") or data["day"], data["ends"], tz),
        )

    @staticmethod
    def initial_of(block: ChairBlock, tz: Any) -> dict[str, Any]:
        starts, ends = block.starts_at.astimezone(tz), block.ends_at.astimezone(tz)
        return {
            "day": starts.date(),
            "starts": starts.time(),
            "until_day": ends.date() if ends.date() != starts.date() else None,
            "ends": ends.time(),
            "reason": block.reason,
        }


def _clashes(place: Workplace, refusal: Any) -> list[dict[str, Any]]:
    """The sessions a refused block would cover, as the hits table lists them."""
    return closure_selectors.sessions_by_id(
        place.clinic, [c["session"] for c in refusal.conflicts if "session" in c]
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.BLOCK_CHAIRS)
def chair_blocks(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """A chair's coming blocks, and a form to add one (refused over booked sessions,
    which are listed)."""
    chair = get_object_or_404(Chair, pk=pk, clinic=place.clinic)
    form = ChairBlockForm(request.POST or None)
    clashes: list[dict[str, Any]] = []
    status = 400 if form.is_bound else 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        starts_at, ends_at = form.span(place.clinic.tz)
        _, refusal = attempt(
            lambda: services.chair_block_save(
                chair=chair, starts_at=starts_at, ends_at=ends_at, reason=data["reason"]
            )
        )
        if refusal is None:
            messages.success(request, f"{chair.name} is blocked on {data['day']:%A %d %B %Y}.")
            return redirect("chair-blocks-page", pk=chair.pk)
        refusal_on_form(form, refusal)
        status = refusal.status
        clashes = _clashes(place, refusal)
    blocks = ChairBlock.objects.filter(chair=chair, ends_at__gt=timezone.now()).order_by(
        "starts_at"
    )
    return render(
        request,
        "scheduling/chair_blocks.html",
        {
            "chair": chair,
            "blocks": blocks,
            "form": form,
            "clashes": clashes,
            "tz": place.clinic.tz,
            "may_set_up": place.can(Capability.SET_UP_CLINIC),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.BLOCK_CHAIRS)
def chair_block_edit(request: HttpRequest, place: Workplace, pk: int, block: int) -> HttpResponse:
    """Change a block's time or reason, by the rules of adding one: an end after its
    start, bounded dates, and no session booked on the chair in the new time (refused,
    listing them)."""
    found = get_object_or_404(
        ChairBlock.objects.select_related("chair"),
        pk=block,
        chair_id=pk,
        chair__clinic=place.clinic,
    )
    tz = place.clinic.tz
    form = ChairBlockForm(request.POST or None, initial=ChairBlockForm.initial_of(found, tz))
    clashes: list[dict[str, Any]] = []
    status = 400 if form.is_bound else 200
    if request.method == "POST" and form.is_valid():
        starts_at, ends_at = form.span(tz)
        reason = form.cleaned_data["reason"]
        _, refusal = attempt(
            lambda: services.chair_block_save(
                found, starts_at=starts_at, ends_at=ends_at, reason=reason
            )
        )
        if refusal is None:
            messages.success(
                request,
                f"The block of {found.chair.name} is now from "
                f"{starts_at:%a %d %b %Y %H:%M} until {ends_at:%a %d %b %Y %H:%M}.",
            )
            return redirect("chair-blocks-page", pk=pk)
        refusal_on_form(form, refusal)
        status = refusal.status
        clashes = _clashes(place, refusal)
        found.refresh_from_db()
    return render(
        request,
        "scheduling/chair_block_edit.html",
        {"chair": found.chair, "chair_block": found, "form": form, "clashes": clashes, "tz": tz},
        status=status,
    )


@require_POST
@staff_page(Capability.BLOCK_CHAIRS)
def chair_block_delete(request: HttpRequest, place: Workplace, pk: int, block: int) -> HttpResponse:
    found = get_object_or_404(ChairBlock, pk=block, chair_id=pk, chair__clinic=place.clinic)
    services.chair_block_delete(found)
    messages.success(request, f"The block of {found.chair.name} is lifted.")
    return redirect("chair-blocks-page", pk=pk)
