"""Superbills: what a patient's delivered sessions in a period bill, per course, with
the clinic's identifiers (docs/billing.md). One patient's superbill is a PDF
(``scheduling.superbill_pdf``) or CSV; a clinic's period export is one CSV of every
patient's lines, for a billing service. Both read the codes and dates of service the
sessions stored when they were completed (``scheduling.billing``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet

from clinic.models import Clinic, Patient
from courses.billing import BillingCode, diagnosis_code
from courses.models import Indication
from scheduling.billing import ServiceLine, billed_units
from scheduling.models import Session, SessionStatus
from scheduling.report_csv import text_cell

# Place of service 11: office. rTMS is given in the clinic's own rooms.
PLACE_OF_SERVICE = "11"
MAX_SPAN_DAYS = 366
CODE_LABELS: dict[str, str] = dict(BillingCode.choices)
INDICATION_LABELS: dict[str, str] = dict(Indication.choices)

CSV_HEADER = (
    "clinic_name",
    "clinic_npi",
    "clinic_tax_id",
    "patient_mrn",
    "patient_last_name",
    "patient_first_name",
    "patient_date_of_birth",
    "course_id",
    "diagnosis_icd10",
    "rendering_provider",
    "date_of_service",
    "place_of_service",
    "cpt_code",
    "units",
    "sessions",
)


def range_problem(date_from: dt.date, date_to: dt.date) -> str | None:
    """Why a superbill cannot cover [date_from, date_to] (both days included)."""
    if date_from > date_to:
        return "The start date must not be after the end date."
    if (date_to - date_from).days + 1 > MAX_SPAN_DAYS:
        return f"A superbill covers at most {MAX_SPAN_DAYS} days; choose a shorter period."
    return None


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last full calendar month: what a superbill is usually asked for."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


@dataclass(frozen=True)
class BilledCourse:
    course_id: int
    diagnosis: str  # ICD-10-CM; "" when neither the course nor its indication gives one
    indication: str  # in words
    provider: str
    lines: list[ServiceLine]

    @property
    def units(self) -> int:
        return sum(line.units for line in self.lines)


@dataclass(frozen=True)
class Superbill:
    clinic: Clinic
    patient: Patient
    date_from: dt.date
    date_to: dt.date
    courses: list[BilledCourse] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """What a payer will ask for that is not on file."""
        found = []
        if not self.clinic.npi:
            found.append("The clinic's NPI is not set (clinic settings).")
        if not self.clinic.tax_id:
            found.append("The clinic's tax id is not set (clinic settings).")
        found += [
            f"Course {course.course_id} records no ICD-10 diagnosis code."
            for course in self.courses
            if not course.diagnosis
        ]
        return found


def _delivered(clinic: Clinic, date_from: dt.date, date_to: dt.date) -> QuerySet[Session]:
    return (
        Session.objects.filter(
            course__patient__clinic=clinic,
            status=SessionStatus.COMPLETED,
            service_date__gte=date_from,
            service_date__lte=date_to,
        )
        .exclude(billing_code="")
        .select_related("patient", "course__psychiatrist")
        .order_by("patient__last_name", "patient__first_name", "patient_id", "course_id")
    )


def _bills(
    clinic: Clinic, sessions: Iterable[Session], date_from: dt.date, date_to: dt.date
) -> list[Superbill]:
    bills: dict[int, Superbill] = {}
    per_course: dict[int, list[Session]] = {}
    for session in sessions:
        if session.patient_id not in bills:
            bills[session.patient_id] = Superbill(clinic, session.patient, date_from, date_to)
        per_course.setdefault(session.course_id, []).append(session)
    for delivered in per_course.values():
        course = delivered[0].course
        provider = course.psychiatrist
        bills[course.patient_id].courses.append(
            BilledCourse(
                course_id=course.pk,
                diagnosis=diagnosis_code(course.indication, course.diagnosis_code),
                indication=INDICATION_LABELS.get(course.indication, course.indication),
                provider=provider.get_full_name() or provider.get_username(),
                lines=billed_units(
                    (s.service_date, s.billing_code) for s in delivered if s.service_date
                ),
            )
        )
    return list(bills.values())


def patient_superbill(patient: Patient, date_from: dt.date, date_to: dt.date) -> Superbill:
    """One patient's superbill for the period (no lines: nothing delivered then)."""
    clinic = patient.clinic
    sessions = _delivered(clinic, date_from, date_to).filter(patient=patient)
    bills = _bills(clinic, sessions, date_from, date_to)
    return bills[0] if bills else Superbill(clinic, patient, date_from, date_to)


def clinic_superbills(clinic: Clinic, date_from: dt.date, date_to: dt.date) -> list[Superbill]:
    """Every patient with a delivered session in the period, by name."""
    return _bills(clinic, _delivered(clinic, date_from, date_to), date_from, date_to)


def csv_rows(bills: Iterable[Superbill]) -> Iterator[list[str]]:
    """The header, then one row per line (a code on a date of service)."""
    yield list(CSV_HEADER)
    for bill in bills:
        clinic, patient = bill.clinic, bill.patient
        for course in bill.courses:
            for line in course.lines:
                yield [
                    clinic.name,
                    clinic.npi,
                    clinic.tax_id,
                    patient.mrn,
                    patient.last_name,
                    patient.first_name,
                    patient.date_of_birth.isoformat(),
                    str(course.course_id),
                    course.diagnosis,
                    course.provider,
                    line.service_date.isoformat(),
                    PLACE_OF_SERVICE,
                    line.code,
                    str(line.units),
                    str(line.sessions),
                ]


def csv_text(bills: Iterable[Superbill]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv_rows(bills):
        writer.writerow([text_cell(cell) for cell in row])  # names are typed by staff
    return out.getvalue()
