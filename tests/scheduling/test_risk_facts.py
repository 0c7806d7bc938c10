"""What risk and progress read for a course (scheduling.risk_facts.load_facts): every
single-session change recomputes its course's risk, so the read's queries are counted:
six for a course without authorizations or assessments, nine with both (was eleven
either way), and the facts read are the course's own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from courses.models import SafetyFlag
from courses.services import authorization_add
from scheduling.risk_facts import load_facts
from scheduling.services import course_schedule
from tests.factories import AssessmentFactory, ClosureFactory

pytestmark = pytest.mark.usefixtures("frozen_now")


def test_a_new_course_is_read_in_six_queries_and_one_with_everything_in_nine(
    make_course: Any, chairs: list[Any], clinic: Any, django_assert_num_queries: Any
) -> None:
    plain, full = make_course(), make_course(at=dt.time(11, 0))
    for course in (plain, full):
        course_schedule(course)
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 24))
    assessment = AssessmentFactory(course=full)
    authorization_add(
        full,
        payer="Aetna",
        number="PA-1",
        sessions_authorized=30,
        valid_from=dt.date(2026, 11, 1),
        valid_until=dt.date(2027, 6, 30),
        codes=[{"code": "90867", "units": 1}],
    )
    SafetyFlag.objects.create(
        course=full, assessment=assessment, item_value=2, raised_at=timezone.now()
    )
    # The course (with which facts it has), its clinic, its protocol, their phases, the
    # sessions, and flags, closures and opening hours in one.
    with django_assert_num_queries(6):
        (read,) = load_facts([plain.pk])
    assert not read.authorizations and not read.assessments and read.open_safety_flags == 0
    # And its authorizations, their codes and its assessments.
    with django_assert_num_queries(9):
        plain_facts, full_facts = load_facts([plain.pk, full.pk])
    assert plain_facts.course == plain and full_facts.course == full
    assert [a.number for a in full_facts.authorizations] == ["PA-1"]
    assert full_facts.authorization_codes == [("90867", 1)]
    assert len(full_facts.assessments) == 1 and full_facts.open_safety_flags == 1
    assert len(full_facts.sessions) == len(plain_facts.sessions) == 36
    assert full_facts.closures == plain_facts.closures == {dt.date(2026, 12, 24)}
    assert full_facts.open_weekdays == {0, 1, 2, 3, 4}
