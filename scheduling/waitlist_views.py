"""The waitlist page (front desk): add a cleared patient's prescribed, unbooked course
with the times the patient can come, see each waiting course's earliest start and its
offer, book from the offer in one action; and the capacity forecast page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from clinic import dates
from clinic.capabilities import Capability
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from courses.models import CourseStatus, TreatmentCourse
from courses.report_charts import Series, bar_chart
from scheduling import services
from scheduling.capacity_forecast import FORECAST_WEEKS, capacity_forecast
from scheduling.models import (
    MONDAY_TO_FRIDAY,
    OCCUPYING,
    Session,
    TimePreference,
    WaitlistEntry,
    WaitlistStatus,
)
from scheduling.waitlist import HORIZON_WEEKS

WEEKDAY_CHOICES = [
    (0, "Mon"),
    (1, "Tue"),
    (2, "Wed"),
    (3, "Thu"),
    (4, "Fri"),
    (5, "Sat"),
    (6, "Sun"),
]
_TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def waitable_courses(clinic_id: int) -> QuerySet[TreatmentCourse]:
    """Planned courses of the clinic without booked sessions or a waiting entry."""
    booked = Session.objects.filter(course=OuterRef("pk"), status__in=OCCUPYING)
    waiting = WaitlistEntry.objects.filter(course=OuterRef("pk"), status=WaitlistStatus.WAITING)
    return (
        TreatmentCourse.objects.filter(patient__clinic_id=clinic_id, status=CourseStatus.PLANNED)
        .exclude(Exists(booked))
        .exclude(Exists(waiting))
        .select_related("patient", "protocol")
        .order_by("patient__last_name", "patient__first_name", "id")
    )


class CourseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        patient = obj.patient
        return f"{patient.last_name}, {patient.first_name} ({patient.mrn}) · {obj.protocol.name}"


class WaitlistForm(forms.Form):
    course = CourseChoiceField(queryset=TreatmentCourse.objects.none(), label="Prescribed course")
    time_preference = forms.ChoiceField(
        choices=TimePreference.choices, label="Sessions start", initial=TimePreference.AROUND
    )
    preferred_time = forms.TimeField(label="Time", widget=_TIME)
    time_flex_minutes = forms.IntegerField(
        min_value=0, max_value=240, initial=0, label="Time flex (minutes)"
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        initial=[0, 1, 2, 3, 4],
        widget=forms.CheckboxSelectMultiple,
        label="May start on",
    )
    not_before = dates.DateFormField(
        label="Earliest start", input_formats=["%Y-%m-%d"], widget=_DATE
    )

    def __init__(self, *args: Any, clinic_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = waitable_courses(clinic_id)  # type: ignore[attr-defined]

    def entry_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("course")
        data["weekdays"] = sum(1 << day for day in set(data["weekdays"])) or MONDAY_TO_FRIDAY
        return data


def waitlist_rows(clinic_id: int) -> list[WaitlistEntry]:
    """The clinic's waiting entries, offers first, then by earliest start (two
    queries)."""
    entries = list(
        services.still_waiting(clinic_id)
        .select_related("course__patient", "course__protocol")
        .order_by("created_at", "id")
    )
    far = dt.date.max
    entries.sort(key=lambda e: (e.offer_start is None, e.fit_start or far, e.created_at))
    return entries


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.BOOK_SESSIONS)
def waitlist_page(request: HttpRequest, place: Workplace) -> HttpResponse:
    today = place.clinic.today()
    form = WaitlistForm(
        request.POST or None, clinic_id=place.clinic.pk, initial={"not_before": today}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            course = form.cleaned_data["course"]
            _, refusal = attempt(
                lambda: services.waitlist_add(course, by=request.user, **form.entry_fields())
            )
            if refusal is None:
                messages.success(request, "Added to the waitlist; its earliest start follows.")
                return redirect("waitlist-page")
            refusal_on_form(form, refusal)
            status = refusal.status
        else:
            status = 400
    context = {
        "form": form,
        "entries": waitlist_rows(place.clinic.pk),
        "tz": place.clinic.tz,
        "horizon_weeks": HORIZON_WEEKS,
    }
    return render(request, "scheduling/waitlist.html", context, status=status)


@require_POST
@staff_page(Capability.BOOK_SESSIONS)
def waitlist_book_offer(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    entry = get_object_or_404(WaitlistEntry, pk=pk, clinic=place.clinic)
    booking, refusal = attempt(lambda: services.waitlist_book_offer(entry))
    if refusal is not None or booking is None:
        messages.error(request, refusal.message if refusal else "Nothing was booked.")
        return redirect("waitlist-page")
    messages.success(request, f"Booked {len(booking.sessions)} sessions from the offer.")
    return redirect(reverse("course-detail", args=[entry.course_id]))


@require_POST
@staff_page(Capability.BOOK_SESSIONS)
def waitlist_dismiss_offer(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    entry = get_object_or_404(WaitlistEntry, pk=pk, clinic=place.clinic)
    _, refusal = attempt(lambda: services.waitlist_dismiss_offer(entry))
    if refusal is not None:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "Offer dismissed; the patient keeps waiting.")
    return redirect("waitlist-page")


@require_POST
@staff_page(Capability.BOOK_SESSIONS)
def waitlist_remove(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    entry = get_object_or_404(WaitlistEntry, pk=pk, clinic=place.clinic)
    _, refusal = attempt(lambda: services.waitlist_remove(entry))
    if refusal is not None:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "Taken off the waitlist.")
    return redirect("waitlist-page")


@require_http_methods(["GET", "HEAD"])
@staff_page(Capability.READ_CAPACITY_FORECAST)
def capacity_forecast_page(request: HttpRequest, place: Workplace) -> HttpResponse:
    today = place.clinic.today()
    monday = today - dt.timedelta(days=today.weekday())
    forecast = capacity_forecast(place.clinic, monday, FORECAST_WEEKS)
    labels = [f"{week.monday:%d %b}" for week in forecast.weeks]
    chart = bar_chart(
        chart_id="chart-capacity",
        title="Chair-hours per week: open, booked and wanted by the waitlist",
        desc=(
            f"For each of the {FORECAST_WEEKS} weeks from {monday:%d %b %Y}: the chair-hours "
            "open, those booked, and those the waiting courses would take from their "
            "earliest start. The table after the chart gives the same figures."
        ),
        categories=labels,
        series=[
            Series("Open", [week.open_hours for week in forecast.weeks]),
            Series("Booked", [week.booked_hours for week in forecast.weeks]),
            Series("Waitlist", [week.waitlist_hours for week in forecast.weeks]),
        ],
        value_format=lambda value: f"{value:.0f} h",
        axis_max=1.0,
        empty_text="No weeks to show.",
    )
    context = {"forecast": forecast, "chart": chart, "monday": monday}
    return render(request, "scheduling/capacity_forecast.html", context)
