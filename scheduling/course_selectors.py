"""What the staff pages about courses show: the booking page's alternatives, the
psychiatrist's dashboard and the course page. Each composes course records (courses)
with sessions, progress and risk, at a fixed number of queries whatever the number of
sessions, scores or courses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from courses.instruments import INSTRUMENTS
from courses.models import (
    OPEN_STATUSES,
    Assessment,
    CourseChange,
    MotorThreshold,
    Protocol,
    SafetyFlag,
    StaffAlert,
    TreatmentCourse,
    planned_weeks,
)
from courses.prescription import Prescription, describe, prescription_for
from courses.selectors import Outcome, outcome_for, screenings_latest_first
from scheduling.calendar import load_calendar
from scheduling.models import OCCUPYING, Session, SessionStatus, TreatmentRecord
from scheduling.planner import Planner
from scheduling.risk import LEVEL_ORDER, REASON_TITLES, Progress, progress
from scheduling.risk_facts import load_facts
from scheduling.risk_rules import rules_in_words
from scheduling.selectors import availability
from scheduling.services import course_shape
from scheduling.services.booking import time_of_day_span


@dataclass(frozen=True)
class BookingAlternative:
    """A change to a refused booking that a dry run has shown to work."""

    label: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class FreeStretch:
    chair: str
    starts_at: dt.datetime
    ends_at: dt.datetime


ALTERNATIVE_FLEX_MINUTES = 30
ALTERNATIVE_TIME_STEP_MINUTES = 15
ALTERNATIVE_LIMIT = 3
ALTERNATIVE_DAYS_AHEAD = 14


def first_day_free_time(
    clinic: Any, day: dt.date, minutes: int, coil: str | None = None
) -> list[FreeStretch]:
    """Stretches of ``day`` with a chair (fitted with ``coil``) free for at least
    ``minutes`` (four queries)."""
    free = availability(clinic, day, minutes, coil)
    return [
        FreeStretch(chair["name"], stretch["starts_at"], stretch["ends_at"])
        for chair in free["chairs"]
        for stretch in chair["free"]
    ]


def _candidate_times(
    free: list[FreeStretch], preferred: dt.time, minutes: int, tz: Any
) -> list[dt.time]:
    """Clinic-local start times (on the quarter hour) at which some chair can hold a
    ``minutes`` slot, nearest to ``preferred`` first."""
    step = dt.timedelta(minutes=ALTERNATIVE_TIME_STEP_MINUTES)
    length = dt.timedelta(minutes=minutes)
    times: set[dt.time] = set()
    for stretch in free:
        start = stretch.starts_at.astimezone(tz)
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        quarters = -(-(start - midnight) // step)  # round up to the next quarter hour
        moment = midnight + quarters * step
        while moment + length <= stretch.ends_at.astimezone(tz):
            times.add(moment.time())
            moment += step
    times.discard(preferred)

    def distance(candidate: dt.time) -> int:
        return abs(
            (candidate.hour * 60 + candidate.minute) - (preferred.hour * 60 + preferred.minute)
        )

    return sorted(times, key=lambda candidate: (distance(candidate), candidate))


def booking_alternatives(
    course_fields: dict[str, Any], *, time_flex_minutes: int, free: list[FreeStretch]
) -> list[BookingAlternative]:
    """Up to three changes to a booking refused for planning conflicts that would
    book every session: a wider time flex, another time on the first day, a later
    start date. Each is planned in full by the booking's own planner on one calendar
    read (copied per try), so a suggestion is one that confirming books unless someone
    takes the time first: five queries, however many candidates are tried."""
    protocol: Protocol = course_fields["protocol"]
    patient = course_fields["patient"]
    clinic = patient.clinic
    preferred: dt.time = course_fields["preferred_time"]
    start: dt.date = course_fields["start_date"]
    chair = course_fields.get("preferred_chair")
    candidates: list[tuple[str, dict[str, Any]]] = []
    if time_flex_minutes < ALTERNATIVE_FLEX_MINUTES:
        candidates.append(
            (
                f"Let sessions move up to {ALTERNATIVE_FLEX_MINUTES} minutes from "
                f"{preferred:%H:%M}",
                {"time_flex_minutes": ALTERNATIVE_FLEX_MINUTES},
            )
        )
    for candidate in _candidate_times(free, preferred, protocol.mapping_minutes, clinic.tz)[:3]:
        candidates.append(
            (
                f"Start at {candidate:%H:%M} instead of {preferred:%H:%M}",
                {"preferred_time": candidate},
            )
        )
    open_weekdays = {hours.weekday for hours in clinic.opening_hours.all()}
    day, later_days = start, 0
    while later_days < 3 and day < start + dt.timedelta(days=ALTERNATIVE_DAYS_AHEAD):
        day += dt.timedelta(days=1)
        if day.weekday() in open_weekdays:
            candidates.append((f"Start on {day:%a %d %b %Y} instead", {"start_date": day}))
            later_days += 1

    # As far ahead as course_schedule looks: the course window and as long again.
    window = dt.timedelta(
        weeks=planned_weeks(list(protocol.phases.all()), protocol.sessions_per_day)
        + clinic.course_window_grace_weeks
    )
    latest_start = max([start, *(c["start_date"] for _, c in candidates if "start_date" in c)])
    shape = course_shape(protocol)
    # Only the stretch of each day some candidate can touch, as course_schedule reads.
    times = [preferred, *(c["preferred_time"] for _, c in candidates if "preferred_time" in c)]
    widest_flex = max([time_flex_minutes, *(c.get("time_flex_minutes", 0) for _, c in candidates)])
    calendar = load_calendar(
        clinic,
        start,
        latest_start + 2 * window,
        coil=protocol.coil,
        patient_id=patient.pk,
        time_of_day=time_of_day_span(times, shape, widest_flex),
    )
    found: list[BookingAlternative] = []
    for label, changes in candidates:
        begin = changes.get("start_date", start)
        planner = Planner(
            calendar.copy(),
            preferred_time=changes.get("preferred_time", preferred),
            preferred_chair_id=chair.pk if chair is not None else None,
            time_flex_minutes=changes.get("time_flex_minutes", time_flex_minutes),
        )
        _, failures = planner.plan(shape, begin, until=begin + 2 * window)
        if failures:
            continue
        found.append(BookingAlternative(label, changes))
        if len(found) == ALTERNATIVE_LIMIT:
            break
    return found


@dataclass(frozen=True)
class RiskReason:
    code: str
    level: str
    title: str
    detail: str


def risk_reasons(reasons: Iterable[Any], *, clinical: bool) -> list[RiskReason]:
    """Reasons in words. Without ``clinical`` detail (front desk), the safety flag
    says only that a psychiatrist must review, not what the patient answered."""
    shown = []
    for reason in reasons:
        title = REASON_TITLES.get(reason.code, reason.code.replace("_", " ").capitalize())
        detail = reason.detail
        if reason.code == "safety_flag" and not clinical:
            title, detail = "Clinical review", "A psychiatrist must review this course."
        shown.append(RiskReason(reason.code, reason.level, title, detail))
    return shown


@dataclass(frozen=True)
class DashboardRow:
    course: TreatmentCourse
    psychiatrist_name: str
    progress: Progress
    reasons: list[RiskReason]
    latest_phq9: Assessment | None


@dataclass(frozen=True)
class Dashboard:
    rows: list[DashboardRow]
    safety_flags: list[SafetyFlag]
    alerts: list[StaffAlert]


def _person(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def psychiatrist_dashboard(clinic_id: int, viewer: Any, *, own_only: bool) -> Dashboard:
    """Open courses by risk (at risk first), with the safety flags still to review and
    the viewer's unacknowledged alerts. ``own_only``: the viewer's courses alone (a
    psychiatrist); otherwise the whole clinic's (a clinic admin). Eleven queries,
    however many courses."""
    courses = TreatmentCourse.objects.filter(patient__clinic_id=clinic_id, status__in=OPEN_STATUSES)
    flags = SafetyFlag.objects.filter(
        course__patient__clinic_id=clinic_id, acknowledged_at__isnull=True
    )
    if own_only:
        courses = courses.filter(psychiatrist=viewer)
        flags = flags.filter(course__psychiatrist=viewer)
    names = {
        course_id: _person(first, last, username)
        for course_id, first, last, username in courses.order_by("id").values_list(
            "id", "psychiatrist__first_name", "psychiatrist__last_name", "psychiatrist__username"
        )
    }
    rows = []
    for facts in load_facts(list(names)):
        result = progress(facts)
        phq9 = [a for a in facts.assessments if a.instrument == "phq9"]
        rows.append(
            DashboardRow(
                course=facts.course,
                psychiatrist_name=names[facts.course.pk],
                progress=result,
                reasons=risk_reasons(result.reasons, clinical=True),
                latest_phq9=phq9[-1] if phq9 else None,
            )
        )
    rows.sort(
        key=lambda row: (
            -LEVEL_ORDER[row.progress.level],
            row.course.patient.last_name,
            row.course.patient.first_name,
            row.course.pk,
        )
    )
    alerts = StaffAlert.objects.filter(
        recipient=viewer, acknowledged_at__isnull=True, course__patient__clinic_id=clinic_id
    ).select_related("course__patient")
    return Dashboard(
        rows=rows,
        safety_flags=list(
            flags.select_related("course__patient", "assessment").order_by("raised_at", "id")
        ),
        alerts=list(alerts.order_by("-created_at", "-id")),
    )


DEVIATION_DAYS = 7


@dataclass(frozen=True)
class DeviationRow:
    record: TreatmentRecord
    words: str


def recent_deviations(
    clinic_id: int, viewer: Any, *, own_only: bool, now: dt.datetime
) -> list[DeviationRow]:
    """Sessions of the last ``DEVIATION_DAYS`` days whose treatment departed from the
    prescription, newest first; ``own_only``: of the viewer's courses. One query."""
    records = (
        TreatmentRecord.objects.filter(
            session__chair__clinic_id=clinic_id,
            session__starts_at__gte=now - dt.timedelta(days=DEVIATION_DAYS),
        )
        .exclude(deviations=[])
        .select_related("session__course__patient", "technician")
        .order_by("-session__starts_at", "-id")
    )
    if own_only:
        records = records.filter(session__course__psychiatrist=viewer)
    return [DeviationRow(record, describe(record.deviations)) for record in records]


@dataclass(frozen=True)
class TimelineEntry:
    session: Session
    number: int | None  # place among the sessions that count; None when missed/cancelled
    state: str  # done | checked_in | upcoming | missed | made_up | cancelled
    words: str
    makeup_for: Any | None
    made_up_by: Any | None
    record: Any | None = None  # its TreatmentRecord (with the technician), when completed
    deviation_words: str = ""  # how the record departs from the prescription


@dataclass(frozen=True)
class AssessmentRow:
    assessment: Assessment
    name: str
    severity: str
    flagged: bool


@dataclass(frozen=True)
class CoursePage:
    course: TreatmentCourse
    progress: Progress
    reasons: list[RiskReason]
    timeline: list[TimelineEntry]
    assessments: list[AssessmentRow]
    outcomes: list[Outcome]
    open_safety_flags: list[Any]
    motor_thresholds: list[Any]
    screening: Any | None  # courses.models.Screening
    adequate_trials: int | None
    authorizations: list[Any]
    phases: list[Any]  # courses.models.ProtocolPhase, in order (with sessions added)
    prescription: Prescription
    changes: list[CourseChange]  # the plan's changes (lengthened, protocol switched)
    followed_by: list[TreatmentCourse]  # the courses that follow this one
    risk_rules: list[tuple[str, str]]  # how the course's type is judged, in words

    @property
    def percent_done(self) -> int:
        total = self.progress.sessions_total
        return min(100, round(100 * self.progress.completed / total)) if total else 0


def _timeline(sessions: list[Any]) -> list[TimelineEntry]:
    by_id = {session.pk: session for session in sessions}
    made_up_by = {s.makeup_for_id: s for s in sessions if s.makeup_for_id is not None}
    entries, number = [], 0
    for session in sessions:
        replacement = made_up_by.get(session.pk)
        counted = session.status in OCCUPYING
        if counted:
            number += 1
        if session.status == SessionStatus.COMPLETED:
            state, words = "done", "Done"
        elif session.status == SessionStatus.CHECKED_IN:
            state, words = "checked_in", "Checked in"
        elif session.status == SessionStatus.SCHEDULED:
            state, words = "upcoming", "Upcoming"
        elif replacement is not None:
            lost = "Missed" if session.status == SessionStatus.MISSED else "Cancelled"
            state, words = "made_up", f"{lost}, made up"
        elif session.status == SessionStatus.MISSED:
            state, words = "missed", "Missed"
        else:
            state, words = "cancelled", "Cancelled"
        record = getattr(session, "record", None)  # read with the session
        entries.append(
            TimelineEntry(
                session=session,
                number=number if counted else None,
                state=state,
                words=words,
                makeup_for=by_id.get(session.makeup_for_id) if session.makeup_for_id else None,
                made_up_by=replacement,
                record=record,
                deviation_words=describe(record.deviations) if record is not None else "",
            )
        )
    return entries


def course_page(course: TreatmentCourse, *, clinical: bool, motor_thresholds: bool) -> CoursePage:
    """Everything the course page shows about ``course`` (read with its patient,
    clinic, protocol, psychiatrist and preferred chair). ``clinical``: the viewer may
    see screening answers; ``motor_thresholds``: and the motor thresholds.
    A fixed number of queries whatever the number of sessions and scores."""
    facts = load_facts([course.pk])[0]
    result = progress(facts)
    sessions = list(
        Session.objects.filter(course_id=course.pk)
        .select_related("chair", "record__technician")
        .order_by("starts_at", "id")
    )
    flags = list(
        SafetyFlag.objects.filter(course_id=course.pk)
        .select_related("assessment")
        .order_by("raised_at", "id")
    )
    flagged = {flag.assessment_id for flag in flags}
    rows = [
        AssessmentRow(
            assessment=a,
            name=INSTRUMENTS[a.instrument].name,
            severity=INSTRUMENTS[a.instrument].severity(a.score),
            flagged=a.pk in flagged,
        )
        for a in facts.assessments
    ]
    first_day = result.first_session_date or course.start_date
    outcomes = [
        outcome_for(code, facts.assessments, first_day) for code in course.tracked_instruments
    ]
    screening = (
        screenings_latest_first(course.patient_id)
        .select_related("decided_by")
        .prefetch_related("failed_trials")
        .first()
    )
    adequate = (
        sum(1 for trial in screening.failed_trials.all() if trial.adequate)
        if screening is not None and clinical
        else None
    )
    thresholds = (
        list(
            MotorThreshold.objects.filter(course_id=course.pk)
            .select_related("measured_by")
            .order_by("measured_on", "id")
        )
        if motor_thresholds
        else []
    )
    return CoursePage(
        course=course,
        progress=result,
        reasons=risk_reasons(result.reasons, clinical=clinical),
        timeline=_timeline(sessions),
        assessments=rows,
        outcomes=outcomes,
        open_safety_flags=[flag for flag in flags if flag.acknowledged_at is None],
        motor_thresholds=thresholds,
        screening=screening,
        adequate_trials=adequate,
        authorizations=list(facts.course.authorizations.all()),
        phases=facts.course_phase_list,
        prescription=prescription_for(course),
        changes=list(
            CourseChange.objects.filter(course_id=course.pk)
            .select_related("by", "from_protocol", "to_protocol")
            .order_by("at", "id")
        ),
        followed_by=list(
            TreatmentCourse.objects.filter(follows_id=course.pk).order_by("start_date", "id")
        ),
        risk_rules=rules_in_words(course, facts.course_phase_list),
    )
