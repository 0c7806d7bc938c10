"""Demo courses for the Brooklyn clinic: every status, weekly PHQ-9 series with
responders, remitters and non-responders, and one safety flag.

Dates are relative to today (clinic-local), so the demo always looks current. A patient
that already has a course is left alone, which makes seeding idempotent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from clinic.models import Clinic, Patient
from courses import services
from courses.models import CourseStatus, Protocol, TreatmentCourse


@dataclass(frozen=True)
class DemoCourse:
    mrn: str
    protocol: str
    indication: str
    status: str
    weeks_ago: int  # start date, in weeks before this week's Monday (negative: future)
    phq9: tuple[int, ...]  # weekly totals from baseline on
    self_harm_week: int | None = None  # week whose PHQ-9 has item 9 = 1
    screening: str = "cleared"


DEMO_COURSES = [
    DemoCourse("BK-1001", "10hz-standard", "mdd", "completed", 12, (22, 19, 15, 12, 9, 6, 4, 3)),
    DemoCourse("BK-1002", "itbs", "mdd_anxiety", "completed", 11, (19, 17, 14, 11, 10, 9, 8)),
    DemoCourse("BK-1003", "10hz-dash", "mdd", "completed", 13, (24, 23, 22, 20, 19, 19, 18)),
    DemoCourse("BK-1004", "10hz-standard", "mdd", "active", 4, (21, 19, 16, 13, 11)),
    DemoCourse("BK-1005", "itbs", "mdd", "active", 3, (18, 17, 13, 10)),
    DemoCourse(
        "BK-1006", "deep-tms-h1", "mdd_anxiety", "active", 2, (20, 19, 18), self_harm_week=1
    ),
    DemoCourse("BK-1007", "10hz-dash", "mdd", "active", 5, (23, 20, 15, 10, 7, 5)),
    DemoCourse("BK-1008", "10hz-standard", "mdd", "active", 1, (17, 16)),
    DemoCourse("BK-1009", "itbs", "ocd", "active", 0, (19,)),
    DemoCourse("BK-1010", "10hz-standard", "mdd", "paused", 3, (20, 18, 17)),
    DemoCourse("BK-1011", "10hz-dash", "mdd", "discontinued", 6, (22, 21)),
    DemoCourse("BK-1012", "snt-accelerated", "mdd", "planned", -1, (25,)),
    DemoCourse("BK-1013", "10hz-standard", "gad", "planned", -2, (), screening="pending"),
]


def phq9_items(total: int, self_harm: int = 0) -> list[int]:
    """Spread a PHQ-9 total evenly over items 1-8 (0-3 each); item 9 is given."""
    items = [0] * 8
    for point in range(total - self_harm):
        items[point % 8] += 1
    return [*items, self_harm]


def _monday(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=today.weekday())


@transaction.atomic
def seed_courses(clinic: Clinic, *, psychiatrist: Any, technician: Any) -> int:
    today = timezone.localdate(timezone=clinic.tz)
    monday = _monday(today)
    created = 0
    for spec in DEMO_COURSES:
        patient = Patient.objects.get(clinic=clinic, mrn=spec.mrn)
        if TreatmentCourse.objects.filter(patient=patient).exists():
            continue
        start = monday - dt.timedelta(weeks=spec.weeks_ago)
        screening = services.screening_save(
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
            services.screening_clear(screening, by=psychiatrist, reason="Meets criteria.")
        course = services.course_create(
            patient=patient,
            psychiatrist=psychiatrist,
            protocol=Protocol.objects.get(clinic=None, code=spec.protocol),
            indication=spec.indication,
            start_date=start,
            preferred_time=dt.time(8 + created % 9, 30 if created % 2 else 0),
            authorization={
                "payer": "Empire BlueCross" if created % 2 else "Medicare",
                "number": f"PA-{240000 + created}",
                "sessions_authorized": 36,
                "valid_from": start - dt.timedelta(days=7),
                "valid_until": start + dt.timedelta(weeks=12),
            },
        )
        for week, total in enumerate(spec.phq9):
            day = start - dt.timedelta(days=3) + dt.timedelta(weeks=week)
            if day > today:
                break
            self_harm = 1 if spec.self_harm_week == week else 0
            services.assessment_record(
                course,
                instrument="phq9",
                items=phq9_items(total, self_harm),
                administered_on=day,
                by=technician,
            )
            if course.tracked_instruments != [course.primary_instrument]:
                services.assessment_record(
                    course,
                    instrument="gad7",
                    score=max(0, min(21, total - 4)),
                    administered_on=day,
                    by=technician,
                )
        _move_to(course, spec.status, psychiatrist, today)
        created += 1
    return created


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
        services.course_transition(course, target, by=by, reason=reason)
    if status == CourseStatus.COMPLETED:
        # A completed demo course ended a couple of weeks ago, not today.
        TreatmentCourse.objects.filter(pk=course.pk).update(
            completed_on=today - dt.timedelta(weeks=2)
        )
