"""Staff HTML pages about courses and their sessions: book a course, the psychiatrist's
dashboard and the course page (with score and motor-threshold entry). Views parse input,
call one service or selector, and render; what a viewer sees on a course's page follows
their capabilities (``clinic.capabilities``): scores and the chart (READ_SCORES), item,
screening and safety-flag detail (READ_CLINICAL_DETAIL), motor thresholds
(READ_MOTOR_THRESHOLDS), and the entry forms (RECORD_MEASUREMENTS).

Superusers (no role) may do everything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from clinic.capabilities import Capability
from clinic.errors import Refusal
from clinic.models import Chair
from clinic.web import Workplace, attempt, is_htmx, refusal_on_form, staff_page
from courses import charts, selectors, services
from courses.forms import AssessmentForm, CourseBookingForm, MotorThresholdForm, PrescriptionForm
from courses.instruments import INSTRUMENTS
from courses.models import OPEN_STATUSES, Screening, TreatmentCourse
from courses.prescription import Prescription
from courses.relapse_views import relapse_context, relapse_dashboard_context
from scheduling import course_selectors
from scheduling import services as scheduling_services
from scheduling.accelerated import treatment_breaks
from scheduling.adverse_event_views import adverse_event_context
from scheduling.course_actions import course_status_actions
from scheduling.models import SessionKind
from scheduling.risk import UNDER_WAY
from scheduling.services.booking import CourseBooking

PLANNING_CODES = {"slot_conflict", "outside_hours", "patient_conflict"}


def _scoped_courses(place: Workplace) -> QuerySet[TreatmentCourse]:
    courses = TreatmentCourse.objects.select_related(
        "patient__clinic",
        "protocol",
        "psychiatrist",
        "preferred_chair",
        "follows__protocol",
        "mapping_reused_from",
    )
    # Superusers see every clinic's courses; staff only their current clinic's (404).
    return courses if place.role is None else courses.filter(patient__clinic=place.clinic)


# --- Book a course ---------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    number: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    chair: str
    kind: str
    moved: bool  # not at the preferred time (the time flex moved it)
    # Outside the authorization: why, in words ("" when covered), and whether it is
    # booked (marked pending authorization) or left unbooked.
    outside: str = ""
    booked: bool = True


def _preview_rows(booking: CourseBooking, chairs: dict[int, str], form: Any) -> list[PreviewRow]:
    """Every planned session in time order: the booked ones and those the clinic's
    authorization rule leaves unbooked."""
    tz = form.clinic.tz
    preferred = form.cleaned_data["preferred_time"]
    outside = {entry.placement.starts_at: entry for entry in booking.outside_authorization}
    planned: list[Any] = [
        *booking.sessions,
        *(e.placement for e in outside.values() if not e.booked),
    ]
    ordered = sorted(planned, key=lambda session: session.starts_at)
    return [
        PreviewRow(
            number=number,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            chair=chairs.get(session.chair_id, ""),
            kind=SessionKind(session.kind).label,
            moved=session.starts_at.astimezone(tz).time() != preferred
            and form.cleaned_data["protocol"].sessions_per_day == 1,
            outside=outside[session.starts_at].detail if session.starts_at in outside else "",
            booked=session.starts_at not in outside or outside[session.starts_at].booked,
        )
        for number, session in enumerate(ordered, 1)
    ]


def _carried(form: Any, **changes: Any) -> list[tuple[str, str]]:
    """The submitted fields as hidden inputs (for Confirm and the alternatives)."""
    values: dict[str, str] = {
        name: str(form.data.get(name, ""))
        for name in form.fields
        if form.data.get(name, "") not in ("", None)
    }
    for name, value in changes.items():
        if isinstance(value, dt.time):
            values[name] = f"{value:%H:%M}"
        elif isinstance(value, dt.date):
            values[name] = value.isoformat()
        else:
            values[name] = str(value)
    return sorted(values.items())


def _conflict_rows(conflict: Refusal) -> list[dict[str, Any]]:
    rows = []
    for entry in conflict.conflicts:
        if "date" not in entry:
            continue
        try:
            day = dt.date.fromisoformat(str(entry["date"]))
        except ValueError:
            continue
        rows.append({"date": day, "detail": entry.get("detail") or entry.get("reason", "")})
    return rows


def _patient_status(clinic_id: int, patient_id: Any) -> Any:
    try:
        return selectors.patient_for_booking(clinic_id, int(patient_id))
    except (TypeError, ValueError):
        return None


def _booking_page(
    request: HttpRequest,
    place: Workplace,
    form: CourseBookingForm,
    *,
    status: int = 200,
    **result: Any,
) -> HttpResponse:
    patient_id = form.data.get("patient") if form.is_bound else form.initial.get("patient")
    context = {
        "form": form,
        "clinic": place.clinic,
        "patient": _patient_status(place.clinic.pk, patient_id),
        "screening_help": selectors.screening_help(place.can),
        "patient_query": request.GET.get("q", ""),
        "picker": form.patient_picker("" if form.is_bound else request.GET.get("q", "")),
        **result,
    }
    template = "courses/_booking.html" if is_htmx(request) else "courses/book.html"
    return render(request, template, context, status=status)


def _conflict_page(
    request: HttpRequest, place: Workplace, form: CourseBookingForm, conflict: Refusal
) -> HttpResponse:
    rows = _conflict_rows(conflict)
    free: list[course_selectors.FreeStretch] = []
    alternatives: list[dict[str, Any]] = []
    first_day = form.cleaned_data["start_date"]
    protocol = form.cleaned_data["protocol"]
    minutes = protocol.mapping_minutes
    if conflict.code in PLANNING_CODES:
        free = course_selectors.first_day_free_time(place.clinic, first_day, minutes, protocol.coil)
        found = course_selectors.booking_alternatives(
            form.booking_fields(),
            time_flex_minutes=form.cleaned_data["time_flex_minutes"],
            free=free,
        )
        alternatives = [
            {"label": option.label, "fields": _carried(form, **option.changes)} for option in found
        ]
    return _booking_page(
        request,
        place,
        form,
        status=conflict.status,
        conflict=conflict,
        conflict_rows=rows,
        free=free,
        free_day=first_day,
        free_minutes=minutes,
        alternatives=alternatives,
    )


@staff_page(Capability.BOOK_SESSIONS)
def course_book(request: HttpRequest, place: Workplace) -> HttpResponse:
    """Preview (a dry run of the real booking), then confirm; plain posts and htmx."""
    if request.method != "POST":
        initial: dict[str, Any] = {
            "start_date": place.clinic.today() + dt.timedelta(days=1),
            "time_flex_minutes": 0,
        }
        if request.GET.get("patient"):
            initial["patient"] = request.GET["patient"]
        form = CourseBookingForm(initial=initial, clinic=place.clinic)
        psychiatrists = list(form.fields["psychiatrist"].queryset)  # type: ignore[attr-defined]
        if len(psychiatrists) == 1:
            form.initial["psychiatrist"] = psychiatrists[0].pk
        return _booking_page(request, place, form)

    form = CourseBookingForm(request.POST, clinic=place.clinic)
    if not form.is_valid():
        return _booking_page(request, place, form, status=400)
    confirm = request.POST.get("action") == "confirm"
    booked, refusal = attempt(
        lambda: scheduling_services.course_book(
            time_flex_minutes=form.cleaned_data["time_flex_minutes"],
            dry_run=not confirm,
            **form.booking_fields(),
        )
    )
    if refusal is not None:
        if refusal.status == 409:
            return _conflict_page(request, place, form, refusal)
        refusal_on_form(form, refusal)
        return _booking_page(request, place, form, status=refusal.status)
    course, booking = cast(tuple[TreatmentCourse, CourseBooking], booked)
    sessions = booking.sessions
    if confirm:
        pending = sum(1 for session in sessions if session.pending_authorization)
        messages.success(
            request,
            f"Course booked: {len(sessions)} sessions for {course.patient.first_name} "
            f"{course.patient.last_name}."
            + (f" {pending} of them are pending authorization." if pending else ""),
        )
        url = reverse("course-detail", args=[course.pk])
        return HttpResponseClientRedirect(url) if is_htmx(request) else redirect(url)
    chairs = dict(Chair.objects.filter(clinic=place.clinic).values_list("id", "name"))
    rows = _preview_rows(booking, chairs, form)
    return _booking_page(
        request,
        place,
        form,
        preview=rows,
        booked_count=len(sessions),
        outside_rows=[row for row in rows if row.outside],
        carried=_carried(form),
        breaks=treatment_breaks(sessions, place.clinic.tz, course.protocol.sessions_per_day),
    )


@staff_page(Capability.BOOK_SESSIONS)
def booking_patients(request: HttpRequest, place: Workplace) -> HttpResponse:
    """The patient picker for a search typed on the booking page (htmx fragment); the
    patient already chosen stays chosen."""
    form = CourseBookingForm(
        initial={"patient": request.GET.get("patient", "")}, clinic=place.clinic
    )
    return render(
        request,
        "courses/_patient_picker.html",
        {"field": form["patient"], "picker": form.patient_picker(request.GET.get("q", ""))},
    )


@staff_page(Capability.BOOK_SESSIONS)
def booking_patient_status(request: HttpRequest, place: Workplace) -> HttpResponse:
    """The chosen patient's screening status, in words (htmx fragment)."""
    patient = _patient_status(place.clinic.pk, request.GET.get("patient"))
    return render(
        request,
        "courses/_patient_status.html",
        {"patient": patient, "screening_help": selectors.screening_help(place.can)},
    )


# --- Psychiatrist dashboard ------------------------------------------------------------


@staff_page(Capability.OPEN_DASHBOARD)
def psychiatrist_dashboard(request: HttpRequest, place: Workplace) -> HttpResponse:
    own_only = not place.can(Capability.OVERSEE_ALL_COURSES)
    dashboard = course_selectors.psychiatrist_dashboard(
        place.clinic.pk, request.user, own_only=own_only
    )
    return render(
        request,
        "courses/dashboard.html",
        {
            "dashboard": dashboard,
            # Treatment records are clinical detail: a clinic admin sees the courses only.
            "deviations": course_selectors.recent_deviations(
                place.clinic.pk, request.user, own_only=own_only, now=timezone.now()
            )
            if place.can(Capability.READ_CLINICAL_DETAIL)
            else None,
            "deviation_days": course_selectors.DEVIATION_DAYS,
            "own_only": own_only,
            "clinic": place.clinic,
            "can_review_flags": place.can(Capability.REVIEW_SAFETY_FLAGS),
            **relapse_dashboard_context(place, request.user, own_only=own_only),
        },
    )


# --- Course page -----------------------------------------------------------------------


SCREENING_ANSWERS = {
    "metal_in_head": "Metal in or near the head",
    "cochlear_implant": "Cochlear implant",
    "brain_stimulator": "Implanted brain or nerve stimulator (DBS, VNS)",
    "magnetic_implant_near_coil": "Magnetic-sensitive implant near the coil",
    "seizure_history": "History of seizures",
    "implanted_devices": "Implanted device elsewhere (pacemaker, pump)",
    "head_injury_with_loc": "Head injury with loss of consciousness",
    "pregnancy": "Pregnancy",
    "prior_tms_problems": "Problems with earlier TMS",
}


def _positive_answers(screening: Screening | None) -> list[dict[str, Any]]:
    if screening is None:
        return []
    return [
        {"label": label, "absolute": name in Screening.ABSOLUTE}
        for name, label in SCREENING_ANSWERS.items()
        if getattr(screening, name)
    ]


def _treatment_output(prescription: Prescription, thresholds: list[Any]) -> int | None:
    """The machine output the prescribed intensity means at the latest threshold."""
    if not thresholds:
        return None
    return round(thresholds[-1].machine_output_pct * prescription.intensity_pct_mt / 100)


def _course_page(
    request: HttpRequest,
    place: Workplace,
    course: TreatmentCourse,
    *,
    assessment_form: AssessmentForm | None = None,
    threshold_form: MotorThresholdForm | None = None,
    prescription_form: PrescriptionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    sees_scores = place.can(Capability.READ_SCORES)
    clinical = place.can(Capability.READ_CLINICAL_DETAIL)
    sees_thresholds = place.can(Capability.READ_MOTOR_THRESHOLDS)
    records = place.can(Capability.RECORD_MEASUREMENTS)
    page = course_selectors.course_page(course, clinical=clinical, motor_thresholds=sees_thresholds)
    clinic = course.patient.clinic
    chart = None
    if sees_scores:
        primary = next(
            (o for o in page.outcomes if o.instrument == course.primary_instrument), None
        )
        chart = charts.course_chart(
            course.tracked_instruments,
            [
                (row.assessment.instrument, row.assessment.administered_on, row.assessment.score)
                for row in page.assessments
            ],
            baseline=primary.baseline.score if primary and primary.baseline else None,
            course_days=(
                page.progress.first_session_date or course.start_date,
                page.progress.projected_end_date,
            ),
            today=clinic.today(),
        )
    context = {
        "page": page,
        "course": course,
        "outcomes": [
            {
                "name": INSTRUMENTS[outcome.instrument].name,
                "primary": outcome.instrument == course.primary_instrument,
                "baseline": outcome.baseline,
                "latest": outcome.latest,
                "severity": outcome.severity,
                "response": outcome.response,
                "remission": outcome.remission,
            }
            for outcome in page.outcomes
        ],
        "positive_answers": _positive_answers(page.screening) if clinical else [],
        "treatment_output": _treatment_output(page.prescription, page.motor_thresholds),
        "clinic": clinic,
        "chart": chart,
        "sees_scores": sees_scores,
        "clinical": clinical,
        "sees_thresholds": sees_thresholds,
        "records": records,
        "can_review_flags": place.can(Capability.REVIEW_SAFETY_FLAGS),
        "status_actions": course_status_actions(course)
        if place.can(Capability.CHANGE_COURSE_STATUS)
        else [],
        "can_extend": place.can(Capability.EXTEND_AUTHORIZATION) and course.status in OPEN_STATUSES,
        "can_screen": place.can(Capability.RECORD_SCREENING),
        "can_book": place.can(Capability.BOOK_SESSIONS) and course.status == "planned",
        "can_change_plan": place.can(Capability.PRESCRIBE) and course.status in UNDER_WAY,
        "can_book_booster": place.can(Capability.BOOK_BOOSTER)
        and course.status not in OPEN_STATUSES,
        **adverse_event_context(place, course),
        **relapse_context(place, course),
        "assessment_form": (assessment_form or AssessmentForm(clinic=clinic) if records else None),
        "threshold_form": (
            threshold_form or MotorThresholdForm(clinic=clinic) if records else None
        ),
        "prescription_form": (
            prescription_form or PrescriptionForm.for_course(course)
            if place.can(Capability.PRESCRIBE)
            else None
        ),
    }
    return render(request, "courses/course.html", context, status=status)


@staff_page(Capability.READ_CLINIC_RECORDS)
def course_detail(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    return _course_page(request, place, course)


@staff_page(Capability.RECORD_MEASUREMENTS)
@require_POST
def assessment_add(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    form = AssessmentForm(request.POST, clinic=course.patient.clinic)
    status = 400
    if form.is_valid():
        assessment, refusal = attempt(
            lambda: services.assessment_record(
                course,
                by=request.user,
                instrument=form.cleaned_data["instrument"],
                administered_on=form.cleaned_data["administered_on"],
                score=form.cleaned_data["score"],
                items=form.cleaned_data["items"],
                suicide_item=form.cleaned_data["suicide_item"],
            )
        )
        if refusal is not None:
            refusal_on_form(form, refusal)
            status = refusal.status
        elif assessment is not None:
            name = INSTRUMENTS[assessment.instrument].name
            messages.success(request, f"{name} of {assessment.administered_on:%d %b %Y} recorded.")
            if hasattr(assessment, "safety_flag"):
                messages.warning(
                    request,
                    "Item 9 was answered above 0: a safety flag is raised and the "
                    "psychiatrist has been alerted.",
                )
            return redirect(reverse("course-detail", args=[course.pk]) + "#scores")
    return _course_page(request, place, course, assessment_form=form, status=status)


@staff_page(Capability.RECORD_MEASUREMENTS)
@require_POST
def motor_threshold_add(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    form = MotorThresholdForm(request.POST, clinic=course.patient.clinic)
    status = 400
    if form.is_valid():
        _, refusal = attempt(
            lambda: services.motor_threshold_record(course, by=request.user, **form.cleaned_data)
        )
        if refusal is None:
            messages.success(request, "Motor threshold recorded.")
            return redirect(reverse("course-detail", args=[course.pk]) + "#motor-thresholds")
        refusal_on_form(form, refusal)
        status = refusal.status
    return _course_page(request, place, course, threshold_form=form, status=status)


@staff_page(Capability.PRESCRIBE)
@require_POST
def course_prescribe(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Change what the course prescribes for each session (empty: the protocol's)."""
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    form = PrescriptionForm(request.POST)
    status = 400
    if form.is_valid():
        changes = {**form.cleaned_data}
        changes["prescribed_coil_position"] = changes["prescribed_coil_position"].strip()
        _, refusal = attempt(lambda: services.course_update(course, **changes))
        if refusal is None:
            messages.success(request, "Prescription saved.")
            return redirect(reverse("course-detail", args=[course.pk]) + "#prescription")
        refusal_on_form(form, refusal)
        status = refusal.status
    return _course_page(request, place, course, prescription_form=form, status=status)
