"""A patient's page for staff: who they are, their courses and screening, their coming
sessions (book, move, cancel), the messages sent and due, the consent history.

It reads every app (sessions, messages), so it lives in the highest one and composes
per-app reads; each part is shown only to the roles that may see it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.capabilities import Capability
from clinic.models import Chair, Patient
from clinic.web import Workplace, staff_page
from courses.models import OPEN_STATUSES, Screening, TreatmentCourse
from courses.selectors import latest_screening
from notifications.models import FINAL_STATUSES, Channel, ConsentEvent, Notification, Status
from notifications.services.policy import message_channels
from scheduling import superbill
from scheduling.models import UPCOMING, Session

# The patient page lists this many of each; older ones are in the outbox and the
# course pages.
SHOWN = 20
# The screening and prescribing pages (another issue) take the patient as ?patient=<id>;
# their links appear once those pages exist.
SCREENING_LINKS = (
    ("screening-new", "Record a screening", Capability.RECORD_SCREENING),
    ("course-prescribe", "Prescribe a course", Capability.PRESCRIBE),
)

# "Messages go by text and email": where the patient's messages go now (consent and
# contact, then their preferred channel).
CHANNEL_WORDS: dict[str, str] = {Channel.SMS: "text", Channel.EMAIL: "email"}


@dataclass(frozen=True)
class PatientRecord:
    patient: Patient
    screening: Screening | None
    courses: list[TreatmentCourse]
    upcoming: list[Session]
    messages_due: list[Notification] | None  # None: the viewer may not read them
    messages_sent: list[Notification] | None
    consents: list[ConsentEvent] | None


def _messages(patient: Patient) -> QuerySet[Notification]:
    return Notification.objects.filter(patient=patient).select_related("session")


def patient_record(patient: Patient, *, contact: bool) -> PatientRecord:
    """Everything the page shows; messages and consents only with ``contact``."""
    upcoming = (
        Session.objects.filter(patient=patient, status__in=UPCOMING, ends_at__gte=timezone.now())
        .select_related("chair", "course__protocol")
        .order_by("starts_at", "id")[:SHOWN]
    )
    courses = (
        TreatmentCourse.objects.filter(patient=patient)
        .select_related("protocol", "psychiatrist")
        .order_by("-created_at", "-id")
    )
    return PatientRecord(
        patient=patient,
        screening=latest_screening(patient),
        courses=list(courses),
        upcoming=list(upcoming),
        messages_due=list(
            _messages(patient)
            .exclude(status__in=FINAL_STATUSES)
            .exclude(status=Status.SENT)
            .order_by("scheduled_for", "id")[:SHOWN]
        )
        if contact
        else None,
        messages_sent=list(
            _messages(patient).filter(sent_at__isnull=False).order_by("-sent_at", "-id")[:SHOWN]
        )
        if contact
        else None,
        consents=list(
            ConsentEvent.objects.filter(patient=patient)
            .select_related("recorded_by")
            .order_by("-at", "-id")
        )
        if contact
        else None,
    )


def _links_if_present(place: Workplace, patient: Patient) -> list[tuple[str, str]]:
    links = []
    for name, label, capability in SCREENING_LINKS:
        if not place.can(capability):
            continue
        try:
            links.append((f"{reverse(name)}?patient={patient.pk}", label))
        except NoReverseMatch:
            continue
    return links


@require_GET
@staff_page(Capability.READ_CLINIC_RECORDS)
def patient_detail(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk, clinic=place.clinic)
    contact = place.can(Capability.READ_PATIENT_CONTACT)
    record = patient_record(patient, contact=contact)
    open_courses = [course for course in record.courses if course.status in OPEN_STATUSES]
    can_book = place.can(Capability.BOOK_SESSIONS)
    can_remap = place.can(Capability.BOOK_REDETERMINATION)
    today = place.clinic.today()
    superbill_from, superbill_to = superbill.default_period(today)
    return render(
        request,
        "notifications/patients/detail.html",
        {
            "record": record,
            "patient": patient,
            "clinic": place.clinic,
            "tz": place.clinic.tz,
            "open_statuses": OPEN_STATUSES,
            "can_contact": contact,
            "channels": [CHANNEL_WORDS[channel] for channel in message_channels(patient)],
            "can_edit": place.can(Capability.EDIT_PATIENTS),
            "can_book": can_book,
            "can_remap": can_remap,
            "can_superbill": place.can(Capability.PRINT_SUPERBILL),
            "superbill_from": superbill_from,
            "superbill_to": superbill_to,
            "can_cancel": place.can(Capability.CANCEL_SESSION),
            "can_read_detail": place.can(Capability.READ_CLINICAL_DETAIL),
            "screening_links": _links_if_present(place, patient),
            "open_courses": open_courses,
            "chairs": Chair.objects.filter(clinic=place.clinic, active=True)
            if (can_book or can_remap) and open_courses
            else [],
            "today": today,
            "back": request.get_full_path(),
        },
    )
