"""The outcomes report page and its CSV export (psychiatrists and clinic admins).

The figures come from :mod:`scheduling.reports`, the charts from
:mod:`courses.report_charts`; these views read the date range, pick the clinic the
viewer is working in, and render.
"""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic import dates
from clinic.capabilities import Capability
from clinic.models import Clinic
from clinic.web import Workplace, staff_page
from courses.report_charts import Series, bar_chart
from scheduling import report_csv, reports

TEMPLATE = "courses/outcomes_report.html"


class ReportRangeForm(forms.Form):
    """The report's dates, clinic-local. Either may be left out: the end defaults to
    today and the start to twelve months before the end."""

    date_from = dates.DateFormField(
        required=False,
        label="From",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = dates.DateFormField(
        required=False,
        label="To",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        date_to = cleaned.get("date_to") or self.today
        date_from = cleaned.get("date_from")
        if date_from is None:
            if not reports.EARLIEST_DATE <= date_to <= reports.LATEST_DATE:
                date_from = date_to  # let range_problem explain what is wrong
            else:
                date_from = reports.default_range(date_to)[0]
        problem = reports.range_problem(date_from, date_to)
        if problem:
            raise forms.ValidationError(problem, code="bad_range")
        cleaned["date_from"], cleaned["date_to"] = date_from, date_to
        return cleaned


def _read_range(request: HttpRequest, clinic: Clinic) -> ReportRangeForm:
    return ReportRangeForm(request.GET, today=clinic.today())


def _bad_range(request: HttpRequest, form: ReportRangeForm) -> HttpResponse:
    return render(request, TEMPLATE, {"form": form, "report": None}, status=400)


def _charts(report: reports.OutcomesReport) -> dict[str, Any]:
    period = f"{report.date_from:%Y-%m-%d} to {report.date_to:%Y-%m-%d}"
    protocols = report.outcomes_by_protocol
    weeks = report.weeks
    week_labels = [f"W{week.monday.isocalendar()[1]:02d}" for week in weeks]
    return {
        "outcomes": bar_chart(
            chart_id="chart-outcomes",
            title="Response and remission rates by protocol",
            desc=(
                f"Share of evaluable completed courses that responded and that remitted, "
                f"per protocol, {period}. The table after the chart gives the same figures."
            ),
            categories=[group.key for group in protocols],
            series=[
                Series("Response", [group.response.value for group in protocols]),
                Series("Remission", [group.remission.value for group in protocols]),
            ],
            empty_text="No completed courses in this range.",
        ),
        "utilisation": bar_chart(
            chart_id="chart-utilisation",
            title="Chair utilisation per week",
            desc=(
                f"Booked session minutes as a share of open chair-minutes, per ISO week, "
                f"{period}. The table after the chart gives the same figures."
            ),
            categories=week_labels,
            series=[Series("Utilisation", [week.utilisation.value for week in weeks])],
        ),
        "missed": bar_chart(
            chart_id="chart-missed",
            title="Missed-session rate per week",
            desc=(
                f"Missed sessions as a share of completed and missed sessions, per ISO "
                f"week, {period}. The table after the chart gives the same figures."
            ),
            categories=week_labels,
            series=[Series("Missed", [week.missed_rate.value for week in weeks])],
        ),
    }


@require_GET
@staff_page(Capability.READ_OUTCOMES)
def outcomes_report(request: HttpRequest, place: Workplace) -> HttpResponse:
    form = _read_range(request, place.clinic)
    if not form.is_valid():
        return _bad_range(request, form)
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    report = reports.outcomes_report(place.clinic, date_from, date_to)
    shown = ReportRangeForm(initial={"date_from": date_from, "date_to": date_to}, today=date_to)
    context = {
        "form": shown,
        "report": report,
        "charts": _charts(report),
        "csv_query": f"date_from={date_from.isoformat()}&date_to={date_to.isoformat()}",
    }
    return render(request, TEMPLATE, context)


@require_GET
@staff_page(Capability.READ_OUTCOMES)
def outcomes_report_csv(request: HttpRequest, place: Workplace) -> HttpResponse:
    form = _read_range(request, place.clinic)
    if not form.is_valid():
        return _bad_range(request, form)
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    report = reports.outcomes_report(place.clinic, date_from, date_to)
    filename = f"cadence-outcomes-{place.clinic.slug}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.csv"
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
    csv.writer(response).writerows(report_csv.csv_rows(report))
    return response
