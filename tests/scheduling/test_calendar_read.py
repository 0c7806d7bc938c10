"""The calendar's two readers of busy time (PostgreSQL's single statement through the
exclusion index, and the portable ORM one the embedded SQLite default uses) give the
same answer, across a DST change, with windows, ignored sessions, statuses that do not
occupy, chair blocks and closures."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import ChairBlock, Closure
from scheduling.calendar import (
    Span,
    _busy_portable,
    _busy_postgresql,
    _days,
    load_calendar,
    local_datetime,
)
from scheduling.models import Session, SessionStatus
from tests.factories import CourseFactory, SessionFactory

FIRST, LAST = dt.date(2027, 3, 8), dt.date(2027, 3, 19)  # New York springs forward on the 14th


def _sessions(clinic: Any, chairs: list[Any]) -> list[Session]:
    courses = [CourseFactory(patient__clinic=clinic) for _ in range(3)]
    made = []
    statuses = itertools.cycle(
        [
            SessionStatus.SCHEDULED,
            SessionStatus.COMPLETED,
            SessionStatus.CANCELLED,
            SessionStatus.CHECKED_IN,
            SessionStatus.MISSED,
        ]
    )
    for n, (day, minute) in enumerate(
        itertools.product(_days(FIRST, LAST), (8 * 60 + 50, 9 * 60 + 30, 11 * 60))
    ):
        starts = local_datetime(day, dt.time(minute // 60, minute % 60), clinic.tz)
        course = courses[n % 3]
        made.append(
            SessionFactory(
                course=course,
                patient=course.patient,
                chair=chairs[n % len(chairs)],
                starts_at=starts,
                ends_at=starts + dt.timedelta(minutes=40),
                status=next(statuses),
            )
        )
    ChairBlock.objects.create(
        chair=chairs[0],
        starts_at=local_datetime(FIRST, dt.time(12), clinic.tz),
        ends_at=local_datetime(FIRST, dt.time(14), clinic.tz),
        reason="coil service",
    )
    Closure.objects.create(clinic=clinic, date=FIRST + dt.timedelta(days=2), reason="holiday")
    return made


# Compares the PostgreSQL reader (tstzrange, the exclusion index) with the portable one.
@pytest.mark.postgres
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    opens=st.integers(min_value=7 * 60, max_value=12 * 60),
    length=st.integers(min_value=1, max_value=4 * 60),
    whole_days=st.booleans(),
    patient_index=st.integers(min_value=0, max_value=3),
    ignore_count=st.integers(min_value=0, max_value=3),
)
def test_both_readers_agree(
    clinic: Any,
    chairs: list[Any],
    opens: int,
    length: int,
    whole_days: bool,
    patient_index: int,
    ignore_count: int,
) -> None:
    sessions = list(Session.objects.filter(chair__clinic=clinic)) or _sessions(clinic, chairs)
    patients = [*sorted({s.patient_id for s in sessions}), None]
    patient = patients[patient_index]
    start = local_datetime(FIRST, dt.time(0), clinic.tz)
    end = local_datetime(LAST + dt.timedelta(days=1), dt.time(0), clinic.tz)
    closes = opens + length
    windows = (
        [(start, end)]
        if whole_days
        else [
            (
                local_datetime(day, dt.time(opens // 60, opens % 60), clinic.tz),
                local_datetime(day, dt.time(closes // 60, closes % 60), clinic.tz),
            )
            for day in _days(FIRST, LAST)
        ]
    )
    ignore = [s.pk for s in sessions[:ignore_count]]
    chair_ids = [chair.pk for chair in chairs[:3]]

    span = Span(clinic.pk, FIRST, LAST, start, end)
    fast = _busy_postgresql(span, chair_ids, windows, patient, ignore)
    portable = _busy_portable(span, chair_ids, windows, patient, ignore)
    assert sorted(fast.sessions) == sorted(portable.sessions)
    assert sorted(fast.patient) == sorted(portable.patient)
    assert sorted(fast.blocks) == sorted(portable.blocks) and len(fast.blocks) == 1
    assert fast.closures == portable.closures == {FIRST + dt.timedelta(days=2)}


def test_a_course_time_window_reads_only_what_touches_it(clinic: Any, chairs: list[Any]) -> None:
    _sessions(clinic, chairs)
    calendar = load_calendar(
        clinic, FIRST, LAST, coil=None, time_of_day=(dt.time(9, 0), dt.time(10, 0))
    )
    read = [
        start.astimezone(clinic.tz).time()
        for busy in calendar.chair_busy.values()
        for start, _ in busy.intervals
    ]
    # 08:50-09:30 and 09:30-10:10 touch 09:00-10:00 on both sides of the DST change;
    # 11:00 does not. Chair blocks are read whole (the 12:00 one).
    assert read and set(read) == {dt.time(8, 50), dt.time(9, 30), dt.time(12)}
    assert calendar.closures == {FIRST + dt.timedelta(days=2)}
