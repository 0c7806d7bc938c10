"""A realistic month at the Brooklyn demo clinic: the courses of courses/demo.py with
their sessions booked by the real planner, the past ones completed (with treatment
records), missed or cancelled, closures on holidays, and risk computed.

Dates are relative to today, so the demo always looks current. A patient who already
has a course is left alone, which makes seeding idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from clinic.models import Clinic, Closure, Patient
from courses import relapse
from courses import services as course_services
from courses.demo import DEMO_COURSES, DemoCourse, phq9_items, this_monday
from courses.models import CourseStatus, Protocol, RelapseWatch, TreatmentCourse
from courses.prescription import deviations, prescription_for
from courses.selectors import course_sessions_total
from scheduling import services
from scheduling.models import Session, SessionStatus, TreatmentRecord
from scheduling.risk import recompute_risk

DEMO_COIL_POSITION = "F3 (Beam method)"


def _thanksgiving(year: int) -> dt.date:
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(weeks=3)


def seed_closures(clinic: Clinic, today: dt.date) -> None:
    for year in (today.year - 1, today.year, today.year + 1):
        for day, reason in [
            (_thanksgiving(year), "Thanksgiving"),
            (dt.date(year, 12, 25), "Christmas Day"),
            (dt.date(year, 1, 1), "New Year's Day"),
        ]:
            Closure.objects.get_or_create(clinic=clinic, date=day, defaults={"reason": reason})


@transaction.atomic
def seed_month(clinic: Clinic, *, psychiatrist: Any, technician: Any) -> int:
    today = clinic.today()
    seed_closures(clinic, today)
    created = []
    for spec in DEMO_COURSES:
        patient = Patient.objects.get(clinic=clinic, mrn=spec.mrn)
        if TreatmentCourse.objects.filter(patient=patient).exists():
            continue
        created.append(_seed_course(clinic, spec, patient, psychiatrist, technician, today))
    recompute_risk([course.pk for course in created])
    return len(created)


def _seed_course(
    clinic: Clinic,
    spec: DemoCourse,
    patient: Patient,
    psychiatrist: Any,
    technician: Any,
    today: dt.date,
) -> TreatmentCourse:
    start = this_monday(today) - dt.timedelta(weeks=spec.weeks_ago)
    screening = course_services.screening_save(
        recorded_by=technician,
        patient=patient,
        current_medications="sertraline 100 mg",
        failed_trials=[
            {"drug": "sertraline", "dose": "150 mg", "weeks": 8, "outcome": "no_response"},
            {
                "drug": "bupropion XL",
                "dose": "300 mg",
                "weeks": 10,
                "outcome": "partial_response",
            },
        ],
    )
    if spec.screening == "cleared":
        course_services.screening_clear(screening, by=psychiatrist, reason="Meets criteria.")
    protocol = Protocol.objects.get(clinic=None, code=spec.protocol)
    course = course_services.course_create(
        patient=patient,
        psychiatrist=psychiatrist,
        protocol=protocol,
        indication=spec.indication,
        start_date=start,
        preferred_time=spec.at,
        prescribed_coil_position=DEMO_COIL_POSITION,
        authorization={
            "payer": "Empire BlueCross" if patient.pk % 2 else "Medicare",
            "number": f"PA-{240000 + patient.pk}",
            "sessions_authorized": spec.authorized or course_sessions_total(protocol),
            "valid_from": start - dt.timedelta(days=7),
            "valid_until": start + dt.timedelta(weeks=spec.authorization_weeks),
        },
    )
    _record_scores(course, spec, start, today, technician)
    if spec.screening == "cleared":
        services.course_schedule(course, allow_past=True)
        _play_out_attendance(course, spec, technician)
    _move_to(course, spec.status, psychiatrist, today)
    if spec.status == CourseStatus.ACTIVE:
        services.arrange_makeups_and_refresh([course.pk])
    return course


def _record_scores(
    course: TreatmentCourse, spec: DemoCourse, start: dt.date, today: dt.date, technician: Any
) -> None:
    for week, total in enumerate(spec.phq9):
        day = start - dt.timedelta(days=3) + dt.timedelta(weeks=week)
        if day > today:
            break
        self_harm = 1 if spec.self_harm_week == week else 0
        course_services.assessment_record(
            course,
            instrument="phq9",
            items=phq9_items(total, self_harm),
            administered_on=day,
            by=technician,
        )
        if "gad7" in course.tracked_instruments:
            course_services.assessment_record(
                course,
                instrument="gad7",
                score=max(0, min(21, total - 4)),
                administered_on=day,
                by=technician,
            )


def _play_out_attendance(course: TreatmentCourse, spec: DemoCourse, technician: Any) -> None:
    """Sessions before now happened: completed, except the ones the spec says were
    missed or cancelled. Written directly: this is history, not new bookings."""
    now = timezone.now()
    past = list(Session.objects.filter(course=course, starts_at__lt=now).order_by("-starts_at"))
    missed = {past[n - 1].pk for n in spec.missed if n <= len(past)}
    cancelled = {past[n - 1].pk for n in spec.cancelled if n <= len(past)}
    completed = [s for s in past if s.pk not in missed | cancelled]
    Session.objects.filter(pk__in=missed).update(status=SessionStatus.MISSED, missed_at=now)
    Session.objects.filter(pk__in=cancelled).update(
        status=SessionStatus.CANCELLED, cancelled_at=now, cancel_reason="Patient unwell"
    )
    for session in completed:
        session.status = SessionStatus.COMPLETED
        session.checked_in_at = session.starts_at - dt.timedelta(minutes=5)
        session.completed_at = session.ends_at
    Session.objects.bulk_update(completed, ["status", "checked_in_at", "completed_at"])
    prescription = prescription_for(course)
    records = []
    for index, session in enumerate(completed):
        # Now and then a session stopped early for scalp discomfort, with its reason.
        stopped = index % 11 == 4
        delivered: dict[str, Any] = {
            "pulses_delivered": prescription.pulses * 2 // 3 if stopped else prescription.pulses,
            "intensity_pct_mt": prescription.intensity_pct_mt,
            "coil_position": DEMO_COIL_POSITION,
        }
        records.append(
            TreatmentRecord(
                session=session,
                **delivered,
                side_effects=["scalp_discomfort"] if stopped else [],
                deviations=deviations(prescription, **delivered),
                deviation_reason="Stopped early: scalp discomfort." if stopped else "",
                technician=technician,
            )
        )
    TreatmentRecord.objects.bulk_create(records)


def _move_to(course: TreatmentCourse, status: str, by: Any, today: dt.date) -> None:
    paths: dict[str, list[str]] = {
        CourseStatus.PLANNED: [],
        CourseStatus.ACTIVE: [CourseStatus.ACTIVE],
        CourseStatus.PAUSED: [CourseStatus.ACTIVE, CourseStatus.PAUSED],
        CourseStatus.COMPLETED: [CourseStatus.ACTIVE, CourseStatus.COMPLETED],
        CourseStatus.DISCONTINUED: [CourseStatus.ACTIVE, CourseStatus.DISCONTINUED],
    }
    for target in paths[status]:
        reason = "Moved out of state." if target == CourseStatus.DISCONTINUED else ""
        # The public transition: an ended course gives up its bookings, a paused one
        # keeps them (docs/scheduling.md).
        course_services.course_transition(course, target, by=by, reason=reason)
    if status == CourseStatus.COMPLETED:
        last = (
            Session.objects.filter(course=course, status=SessionStatus.COMPLETED)
            .order_by("-starts_at")
            .first()
        )
        completed_on = last.starts_at.astimezone(course.patient.clinic.tz).date() if last else today
        TreatmentCourse.objects.filter(pk=course.pk).update(completed_on=completed_on)
        # The relapse watch counts from the day the course really ended, not today.
        course.completed_on = completed_on
        RelapseWatch.objects.filter(course=course).delete()
        relapse.watch_enroll(course)
