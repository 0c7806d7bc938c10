"""The patient list: search as you type, filtered by what a patient's courses say.

It lives in the courses app because its filters and columns read courses (the open
course, its risk, the latest screening); registration and editing are clinic's."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.capabilities import Capability
from clinic.models import Patient
from clinic.selectors import patient_search
from clinic.web import Workplace, is_htmx, staff_page
from courses.models import OPEN_STATUSES, RiskLevel, TreatmentCourse
from courses.selectors import latest_screening_status

PAGE_SIZE = 25
# ?show=: which patients the list shows. Waitlisted patients come with the waitlist.
SHOW_CHOICES = {
    "": "All patients",
    "active": "With an open course",
    "at_risk": "Whose open course is at risk",
}


def patient_directory(
    clinic_id: int, text: str = "", show: str = "", *, by_phone: bool = True
) -> QuerySet[Patient]:
    """A clinic's patients matching ``text`` (clinic.selectors.patient_search), each with
    ``screening_status`` (latest screening; None without one) and its open course's id,
    status and risk level (``open_course_*``; None without one). Without ``by_phone``
    a search does not match phone numbers (a searcher who may not see them)."""
    open_course = TreatmentCourse.objects.filter(
        patient=OuterRef("pk"), status__in=OPEN_STATUSES
    ).order_by("-created_at", "-id")
    patients = Patient.objects.filter(clinic_id=clinic_id)
    patients = patient_search(patients, text, phone_in=None if by_phone else ()).annotate(
        screening_status=latest_screening_status(),
        open_course_id=Subquery(open_course.values("pk")[:1]),
        open_course_status=Subquery(open_course.values("status")[:1]),
        open_course_risk=Subquery(open_course.values("risk_level")[:1]),
    )
    if show == "active":
        patients = patients.filter(open_course_id__isnull=False)
    elif show == "at_risk":
        patients = patients.filter(open_course_risk=RiskLevel.AT_RISK)
    return patients.order_by("last_name", "first_name", "id")


def _page(request: HttpRequest, patients: QuerySet[Patient]) -> Page[Any]:
    return Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))


@require_GET
@staff_page(Capability.READ_CLINIC_RECORDS)
def patient_list(request: HttpRequest, place: Workplace) -> HttpResponse:
    """The list; a search typed (htmx) replaces only the results."""
    text = request.GET.get("q", "")[:100]
    show = request.GET.get("show", "")
    if show not in SHOW_CHOICES:
        show = ""
    contact = place.can(Capability.READ_PATIENT_CONTACT)
    page = _page(request, patient_directory(place.clinic.pk, text, show, by_phone=contact))
    context = {
        "page": page,
        "q": text,
        "show": show,
        "show_choices": SHOW_CHOICES,
        "clinic": place.clinic,
        "can_edit": place.can(Capability.EDIT_PATIENTS),
        "can_contact": contact,
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "patient-results":
        return render(request, "courses/patients/_results.html", context)
    return render(request, "courses/patients/list.html", context)
