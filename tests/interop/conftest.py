from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from clinic.models import Role
from scheduling.models import SessionStatus, TreatmentRecord
from tests.factories import (
    AssessmentFactory,
    ChairFactory,
    CourseFactory,
    MembershipFactory,
    PatientFactory,
    SessionFactory,
)


@dataclass
class Record:
    """One patient's record in a clinic: a course, a delivered session, a booked one,
    a PHQ-9 with its items and a GAD-7 total."""

    patient: Any
    course: Any
    delivered: Any
    booked: Any
    phq9: Any
    gad7: Any
    technician: Any


def make_record(clinic: Any) -> Record:
    patient = PatientFactory(clinic=clinic)
    course = CourseFactory(patient=patient, indication="mdd_anxiety")
    chair = ChairFactory(clinic=clinic, coils=["figure-8"])
    technician = MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user
    delivered = SessionFactory(
        course=course,
        chair=chair,
        starts_at=dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 11, 30, 14, 40, tzinfo=dt.UTC),
        status=SessionStatus.COMPLETED,
        checked_in_at=dt.datetime(2026, 11, 30, 13, 55, tzinfo=dt.UTC),
        completed_at=dt.datetime(2026, 11, 30, 14, 35, tzinfo=dt.UTC),
    )
    TreatmentRecord.objects.create(
        session=delivered,
        pulses_delivered=3000,
        intensity_pct_mt=120,
        coil_position="F3 (Beam method)",
        side_effects=["headache"],
        technician=technician,
    )
    booked = SessionFactory(
        course=course,
        chair=chair,
        starts_at=dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 12, 1, 14, 40, tzinfo=dt.UTC),
    )
    phq9 = AssessmentFactory(
        course=course,
        score=12,
        items=[2, 2, 1, 1, 2, 1, 1, 1, 1],
        suicide_item=1,
        recorded_by=technician,
    )
    gad7 = AssessmentFactory(course=course, instrument="gad7", score=9)
    return Record(patient, course, delivered, booked, phq9, gad7, technician)


@pytest.fixture
def record(clinic: Any) -> Record:
    return make_record(clinic)
