"""Reads for the courses app: catalog visibility, outcomes and the course window."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from clinic import access
from clinic.capabilities import Capability, roles_for
from clinic.models import Patient, Role
from courses import course_plan
from courses.instruments import INSTRUMENTS, is_response
from courses.models import (
    OPEN_STATUSES,
    Assessment,
    AssessmentSource,
    CourseStatus,
    Protocol,
    ProtocolPhase,
    Screening,
    TreatmentCourse,
)

BASELINE_DAYS = 7


def protocols_visible(user: Any) -> QuerySet[Protocol]:
    queryset = Protocol.objects.prefetch_related(
        Prefetch("phases", queryset=ProtocolPhase.objects.order_by("order"))
    ).order_by("code", "id")
    ids = access.clinic_ids(user)
    if ids is None:
        return queryset
    return queryset.filter(Q(clinic__isnull=True) | Q(clinic__in=ids))


def sessions_total(protocol: Protocol) -> int:
    """The protocol's sessions by its phases (SNT: 50 treatments)."""
    return sum(phase.sessions for phase in protocol.phases.all())


def course_sessions_total(protocol: Protocol) -> int:
    """The sessions a course of ``protocol`` books: its phases' sessions, and the
    mapping session when that is one of its own (SNT: 1 + 50). A course's own total
    (sessions added, a threshold reused) is courses.course_plan's."""
    return sessions_total(protocol) + int(protocol.separate_mapping)


def window_end_date(
    course: TreatmentCourse, phases: Sequence[ProtocolPhase] | None = None
) -> dt.date:
    """Planned weeks of every phase (with the sessions added), plus the grace its
    type allows (courses.course_plan; ``phases``: the protocol's, when the caller
    already holds them)."""
    phase_list = course_plan.course_phases(course, phases)
    return course.start_date + dt.timedelta(weeks=course_plan.window_weeks(course, phase_list))


@dataclass(frozen=True)
class Score:
    id: int
    score: int
    administered_on: dt.date

    @classmethod
    def of(cls, assessment: Assessment) -> Score:
        return cls(assessment.pk, assessment.score, assessment.administered_on)


@dataclass(frozen=True)
class Outcome:
    instrument: str
    baseline: Score | None
    latest: Score | None
    severity: str | None
    response: bool | None
    remission: bool | None


def outcome_for(instrument: str, assessments: Sequence[Assessment], first_day: dt.date) -> Outcome:
    """Baseline, latest, response and remission on one instrument.

    Baseline: the last score in the 7 days up to and including ``first_day`` (the
    course's first session, or its start date while nothing is booked). Remission is
    judged on the latest score taken after ``first_day``, i.e. during or after
    treatment; response also needs a baseline to fall from. The relapse watch's
    patient-reported scores, months after the end, are not the course's outcome.
    """
    scale = INSTRUMENTS[instrument]
    ordered = sorted(
        (
            a
            for a in assessments
            if a.instrument == instrument and a.source != AssessmentSource.PATIENT_REPORTED
        ),
        key=lambda a: (a.administered_on, a.pk),
    )
    window_start = first_day - dt.timedelta(days=BASELINE_DAYS)
    candidates = [a for a in ordered if window_start <= a.administered_on <= first_day]
    baseline = candidates[-1] if candidates else None
    latest = ordered[-1] if ordered else None
    follow_up = latest if latest is not None and latest.administered_on > first_day else None
    response = (
        is_response(baseline.score, follow_up.score)
        if baseline is not None and follow_up is not None
        else None
    )
    remission = scale.in_remission(follow_up.score) if follow_up is not None else None
    return Outcome(
        instrument=instrument,
        baseline=Score.of(baseline) if baseline else None,
        latest=Score.of(latest) if latest else None,
        severity=scale.severity(latest.score) if latest else None,
        response=response,
        remission=remission,
    )


def outcome_as_dict(outcome: Outcome) -> dict[str, Any]:
    return dataclasses.asdict(outcome)


def first_treatment_day(course: TreatmentCourse) -> dt.date:
    """The day of the course's first session; its start date until one is booked."""
    first = getattr(course, "first_session_date", None)
    return first or course.start_date


def course_outcomes(course: TreatmentCourse) -> list[Outcome]:
    assessments = list(course.assessments.all())
    day = first_treatment_day(course)
    return [outcome_for(code, assessments, day) for code in course.tracked_instruments]


@dataclass
class OutcomeRow:
    protocol: str
    indication: str
    completed: int = 0
    evaluable: int = 0
    responders: int = 0
    remitters: int = 0

    @property
    def response_rate(self) -> float | None:
        return round(self.responders / self.evaluable, 3) if self.evaluable else None

    @property
    def remission_rate(self) -> float | None:
        return round(self.remitters / self.evaluable, 3) if self.evaluable else None


def outcome_summary(
    clinic_ids: Iterable[int], date_from: dt.date, date_to: dt.date
) -> list[OutcomeRow]:
    """Completed courses in [date_from, date_to] by protocol and indication, with
    response and remission rates on each course's primary instrument. A course is
    evaluable when it has a baseline and a later score."""
    courses = (
        TreatmentCourse.objects.filter(
            patient__clinic__in=list(clinic_ids),
            status=CourseStatus.COMPLETED,
            completed_on__gte=date_from,
            completed_on__lte=date_to,
        )
        .select_related("protocol")
        .prefetch_related("assessments")
        .order_by("protocol__code", "indication", "id")
    )
    rows: dict[tuple[str, str], OutcomeRow] = {}
    for course in courses:
        key = (course.protocol.code, course.indication)
        row = rows.setdefault(key, OutcomeRow(*key))
        row.completed += 1
        outcome = outcome_for(
            course.primary_instrument, list(course.assessments.all()), first_treatment_day(course)
        )
        if outcome.response is None:
            continue
        row.evaluable += 1
        row.responders += bool(outcome.response)
        row.remitters += bool(outcome.remission)
    return [rows[key] for key in sorted(rows)]


# --- Staff pages: booking, the psychiatrist dashboard, the course page -----------------
def screenings_latest_first(patient: Any) -> QuerySet[Screening]:
    """A patient's screenings, the one in force first (``patient``: a patient, an id
    or an ``OuterRef``). Every read of "the latest screening" starts here."""
    return Screening.objects.filter(patient=patient).order_by("-created_at", "-id")


def latest_screening(patient: Any) -> Screening | None:
    return screenings_latest_first(patient).first()


def latest_screening_status() -> Any:
    """Subquery: the status of a patient's latest screening (for ``Patient`` rows)."""
    return Subquery(screenings_latest_first(OuterRef("pk")).values("status")[:1])


def patients_for_booking(clinic_id: int, query: str = "") -> QuerySet[Any]:
    """A clinic's patients, each annotated with ``screening_status`` (latest screening,
    None without one) and ``open_course_id`` (an open course blocks a new one)."""
    open_course = TreatmentCourse.objects.filter(
        patient=OuterRef("pk"), status__in=OPEN_STATUSES
    ).values("pk")[:1]
    patients = Patient.objects.filter(clinic_id=clinic_id).annotate(
        screening_status=latest_screening_status(), open_course_id=Subquery(open_course)
    )
    for word in query.split():
        patients = patients.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(mrn__icontains=word)
        )
    return patients.order_by("last_name", "first_name", "id")


def patient_for_booking(clinic_id: int, patient_id: int) -> Any:
    """One patient of ``patients_for_booking``, with ``screening_id`` too (their latest
    screening's, for a link to it); None when not the clinic's."""
    latest = screenings_latest_first(OuterRef("pk")).values("pk")[:1]
    return (
        patients_for_booking(clinic_id)
        .filter(pk=patient_id)
        .annotate(screening_id=Subquery(latest))
        .first()
    )


def _role_names(capability: Capability) -> str:
    names = sorted(Role(role).label.lower() for role in roles_for(capability))
    return " or ".join(names)


@dataclass(frozen=True)
class ScreeningHelp:
    """Who records and who clears a screening (in words, from the capability table),
    and whether the viewer may: what a page says to do about a patient not cleared."""

    who_records: str
    who_clears: str
    can_record: bool
    can_clear: bool


def screening_help(can: Any) -> ScreeningHelp:
    """``can``: the viewer's capability check (Workplace.can)."""
    return ScreeningHelp(
        who_records=_role_names(Capability.RECORD_SCREENING),
        who_clears=_role_names(Capability.CLEAR_SCREENING),
        can_record=can(Capability.RECORD_SCREENING),
        can_clear=can(Capability.CLEAR_SCREENING),
    )


def clinic_psychiatrists(clinic_id: int) -> QuerySet[Any]:
    """Active staff who may be named a course's psychiatrist in the clinic."""
    return (
        get_user_model()
        .objects.filter(
            memberships__clinic_id=clinic_id,
            memberships__role__in=roles_for(Capability.PRESCRIBE),
            is_active=True,
        )
        .order_by("last_name", "first_name", "id")
    )


def bookable_protocols(clinic_id: int) -> QuerySet[Protocol]:
    """Active protocols a course in this clinic may use: the catalog and its own."""
    return (
        Protocol.objects.filter(Q(clinic__isnull=True) | Q(clinic_id=clinic_id), active=True)
        .prefetch_related(Prefetch("phases", queryset=ProtocolPhase.objects.order_by("order")))
        .order_by("name", "id")
    )


def booster_protocols(clinic_id: int) -> list[Protocol]:
    """The protocols a booster course in this clinic may use (courses.course_plan:
    an acute-style cluster), the seeded booster first (the clinic's own copy of it
    before the catalog's), then by name."""
    protocols = [
        protocol
        for protocol in bookable_protocols(clinic_id)
        if course_plan.is_booster_protocol(protocol, list(protocol.phases.all()))
    ]

    def rank(protocol: Protocol) -> tuple[int, int]:
        if protocol.code != course_plan.BOOSTER_PROTOCOL_CODE:
            return (1, 0)
        return (0, 0 if protocol.clinic_id is not None else 1)

    return sorted(protocols, key=rank)  # stable: by name within a rank
