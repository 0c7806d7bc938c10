"""Shared by the relapse-watch tests: a completed acute course with its watch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from clinic.models import Role
from courses import services
from courses.models import CourseStatus, TreatmentCourse
from tests.factories import CourseFactory, MembershipFactory, PatientFactory, cleared_screening

# Tuesday 1 December 2026, 15:00 in New York: the course is completed that day.
ENDED_AT = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)
ENDED_ON = dt.date(2026, 12, 1)


@pytest.fixture
def psychiatrist(clinic: Any) -> Any:
    user = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    user.email = "dr@example.com"
    user.save()
    return user


@pytest.fixture
def complete_course(clinic: Any, psychiatrist: Any) -> Callable[..., TreatmentCourse]:
    """An acute course with a last clinic PHQ-9 of ``last_score``, completed at
    ``at`` (ENDED_AT by default)."""

    def make(
        last_score: int | None = 4, at: dt.datetime = ENDED_AT, **patient: Any
    ) -> TreatmentCourse:
        course = CourseFactory(
            patient=PatientFactory(clinic=clinic, **patient),
            psychiatrist=psychiatrist,
            status=CourseStatus.ACTIVE,
        )
        cleared_screening(course.patient, by=psychiatrist)
        with time_machine.travel(at, tick=False):
            if last_score is not None:
                services.assessment_record(
                    course,
                    instrument="phq9",
                    score=last_score,
                    suicide_item=0,
                    administered_on=at.astimezone(clinic.tz).date() - dt.timedelta(days=1),
                    by=psychiatrist,
                )
            return services.course_transition(course, CourseStatus.COMPLETED, by=psychiatrist)

    return make


def answers(total: int, item9: int = 0) -> list[int]:
    """Nine PHQ-9 answers adding up to ``total`` (item 9 as given)."""
    items = [0] * 8 + [item9]
    rest = total - item9
    for index in range(8):
        items[index] = min(3, rest)
        rest -= items[index]
    assert rest == 0 and sum(items) == total
    return items
